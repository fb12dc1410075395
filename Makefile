# Shortcuts for course.py, for those who have make. Everything also works
# without make: `python3 course.py lab`, `python3 course.py test`.
PYTHON ?= python3

.PHONY: lab test exercises bench clean

lab:  ## install, then open JupyterLab at the first lesson
	$(PYTHON) course.py lab

test:  ## install, then run every test and check every notebook
	$(PYTHON) course.py test

exercises:  ## regenerate exercises/ from solutions/
	$(PYTHON) course.py exercises

bench:  ## run the benchmarks
	$(PYTHON) course.py bench

clean:  ## remove the virtual environment and caches
	rm -rf .venv .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
