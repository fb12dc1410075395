"""The lesson servers of the course, one FastAPI app per lesson.

========================  ===========================  =========================
module                    endpoint                     lesson
========================  ===========================  =========================
``server.text``           ``/ws/chat``                 01 text messages
``server.binary``         ``/ws/file-transfer``        02 binary messages, files
``server.json_messages``  ``/ws/json-demo``            03 JSON with Pydantic
``server.timeout``        ``/ws/with-timeout``         04 timeouts, heartbeats
``server.mixed``          ``/ws/mixed``                05 quiz: text and binary
``server.hardening``      every endpoint               06 hardening
``server.echo``           ``/ws/echo``                 conformance (docs/)
========================  ===========================  =========================

``server.background.BackgroundServer`` runs any of them on uvicorn in a
background thread; ``python -m server.<module>`` runs one from a terminal.
``server.binary_client`` is lesson 02's client: upload, download, list.
"""
