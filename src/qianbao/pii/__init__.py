"""Personal-data protection: field encryption, keyed look-up hashes, masking."""
