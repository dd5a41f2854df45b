"""The command line (conformance/cli): options and exit codes, the commands, report.json."""
