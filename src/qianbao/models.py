"""Every table of every domain package, imported so that `Base.metadata` is complete.

Alembic's autogenerate and the schema-drift test read the metadata from here. A new package with
tables adds one import line below.
"""

from qianbao.adapters.bank import models as _bank_models  # noqa: F401
from qianbao.adapters.billers import models as _billers_sandbox_models  # noqa: F401
from qianbao.adapters.sms import models as _sms_models  # noqa: F401
from qianbao.approvals import models as _approvals_models  # noqa: F401
from qianbao.audit import models as _audit_models  # noqa: F401
from qianbao.cards import models as _cards_models  # noqa: F401
from qianbao.counter import models as _counter_models  # noqa: F401
from qianbao.credentials import models as _credentials_models  # noqa: F401
from qianbao.credentials import passkeys as _passkeys_models  # noqa: F401
from qianbao.db import Base
from qianbao.ledger import models as _ledger_models  # noqa: F401
from qianbao.merchants import models as _merchants_models  # noqa: F401
from qianbao.notices import models as _notices_models  # noqa: F401
from qianbao.payments import bills_models as _bills_models  # noqa: F401
from qianbao.payments import models as _payments_models  # noqa: F401
from qianbao.payments import paycode_models as _paycode_models  # noqa: F401
from qianbao.receipts import models as _receipts_models  # noqa: F401
from qianbao.staff import models as _staff_models  # noqa: F401
from qianbao.wallets import models as _wallets_models  # noqa: F401

metadata = Base.metadata
