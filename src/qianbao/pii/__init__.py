"""Personal-data protection: field encryption, keyed look-up hashes, masking (docs/security.md).

    crypto.EncryptedString / EncryptedBytes   column types that encrypt with the installed keyring
    hashing.lookup_hash(kind, value)          HMAC look-up hash for unique constraints and searches
    masking.mask_name / mask_id_number / mask_phone / mask_card
    rotate                                    re-encryption under a new key (`qianbao keys rotate`)
"""

from qianbao.pii.keyring import current_keyring, installed_keyring, use_keyring

__all__ = ["current_keyring", "installed_keyring", "use_keyring"]
