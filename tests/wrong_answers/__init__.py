"""Plausible wrong answers to the exercises: one module per lesson stem.

Each module holds ``WRONG_ANSWERS``, mapping every exercise's short name to
code that replaces its solution block (written unindented; the test indents
it). tests/test_exercises.py fills every exercise of a lesson with its wrong
answer at once and requires that every check cell fails with one
CheckFailed whose message is a hint (not "is not written yet"), that no
check prints ✓, and that no cell other than answer and check cells fails.
The comment above each answer says which mistake it makes.
"""
