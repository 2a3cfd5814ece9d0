"""Jobs that outlive the command: the boto3-compatible client (`client`), the SQLite job store
(`store`), the detached worker that runs a stored job (`worker`) and process checks."""
