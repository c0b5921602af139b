"""Facts that cross a process boundary, declared once: what the program configures and the Lambdas, the image's
scripts, the operator CLI and the cost simulator read. Standard library only, so that each Lambda's archive and
the image carry it as it is (tests/contracts checks both, and that nothing here imports the project)."""
