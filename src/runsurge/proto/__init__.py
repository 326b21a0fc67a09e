"""Generated gRPC/protobuf code (subpackage v1), rebuilt by `make proto`; never edited by hand.

Only servicers and the client edge import it; domain code works with plain types.
"""
