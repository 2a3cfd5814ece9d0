"""SageMaker on the wire, offline: one dispatcher from an awsJson1.1 request to the offline
client's answer (dispatch.py), the SageMaker Runtime stand-in
(runtime.py), the HTTP server of ``irsim serve`` (server.py) and the in-process mock that answers
botocore's requests before they are sent (mock.py, pytest_plugin.py)."""
