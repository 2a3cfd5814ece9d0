"""Exit codes, irsim's own and the AWS CLI's (for the AWS-shaped commands and boto3 mode)."""

EXIT_OK = 0
EXIT_FAILED = 1            # the work ran and its answer is negative (a FAILED job, nothing feasible)
EXIT_USAGE = 2             # bad input: one line on stderr, nothing written
EXIT_TIMEOUT = 3           # every wait command: the --timeout ran out before the job ended (it goes on)
AWS_PARAMETER_ERROR = 252  # the AWS CLI's exit code for a request it refuses to send
AWS_SERVICE_ERROR = 254    # ... for an error the service answered
AWS_GENERAL_ERROR = 255    # ... and for any other failure (e.g. no connection)
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141     # standard output's reader went away (`irsim ... | head`): as SIGPIPE ends a program
