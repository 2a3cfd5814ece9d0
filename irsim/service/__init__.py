"""The offline Inference Recommender service: a request is validated (`request`, against
botocore's model in `awsmodel`), translated to the simulator's terms (`translate`), run as
benchmarks (`benchmark`, `job`) and answered in the API's shapes (`responses`)."""
