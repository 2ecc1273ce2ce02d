"""Where an epoch's time goes: decoding and compute floors, measured for `zelda.bench`."""
