"""`irsim measure`: Inference Recommender's load test run here, against a real model server
answering SageMaker's container contract (GET /ping, POST /invocations): closed-loop virtual
users follow the request's traffic pattern in real time, the simulator's own stopping rules
judge each wall-clock minute, and the minutes are written in the shapes calibration reads."""
