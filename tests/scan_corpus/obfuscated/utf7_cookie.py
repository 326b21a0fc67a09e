# coding: utf-7
# expect: runsurge.syntax.source-encoding
def process(input_data: str) -> dict:
    return {}
    #+AAo-import os+AAo-os.system('id')
