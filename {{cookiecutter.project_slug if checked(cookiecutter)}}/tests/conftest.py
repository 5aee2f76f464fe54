"""Load the connector contract (tests/contract/) as a pytest plugin, so that its options
(--connector, --target, --contract-report, ...) work whichever tests pytest is asked to run."""

pytest_plugins = ["contract.plugin"]
