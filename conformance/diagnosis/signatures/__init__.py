"""The signatures of known bugs, one module per kind of network: dense (single pass), conv, conv_delta
(the conv backward's error routing) and trajectory (whole training runs)."""
