"""The contributor agent: registers, keeps a work stream open, runs tasks in the sandbox."""
