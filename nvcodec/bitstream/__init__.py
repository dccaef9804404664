"""What a standalone decoder needs: the container format (``container``), the integer entropy
tables (``entropy``), quantization (``quant``) and the decoder itself (``decoder``).

Nothing here imports the training code (``nvcodec.training``) or the benchmark (``nvcodec.rd``):
``import nvcodec.bitstream.decoder`` loads the models and this package, no optimizer, no encoder
(tests/test_standalone.py checks it).
"""
