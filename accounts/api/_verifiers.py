"""Which enterprises a verifier's key sees: those its body is assigned to (any year).

Read through the ``verifier_enterprises`` view that trust (the writer of assignments) owns.
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


async def assigned(pool: AsyncConnectionPool, verifier_id: str, code: str) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM verifier_enterprises WHERE verifier_id = %s AND enterprise_code = %s"
            " LIMIT 1",
            (verifier_id, code),
        )
        return await cur.fetchone() is not None
