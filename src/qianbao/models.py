"""Every table of every domain package, imported so that `Base.metadata` is complete.

Alembic's autogenerate and the schema-drift test read the metadata from here. A new package with
tables adds one import line below.
"""

from qianbao.db import Base

metadata = Base.metadata
