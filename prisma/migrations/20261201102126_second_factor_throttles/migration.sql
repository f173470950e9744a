-- The second-factor failure counter moves from users to a table of the MFA
-- feature alone; existing counts and waits are carried over before the columns go.

-- CreateTable
CREATE TABLE "second_factor_throttles" (
    "user_id" UUID NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "blocked_until" TIMESTAMPTZ(3),

    CONSTRAINT "second_factor_throttles_pkey" PRIMARY KEY ("user_id")
);

-- AddForeignKey
ALTER TABLE "second_factor_throttles" ADD CONSTRAINT "second_factor_throttles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Carry over
INSERT INTO "second_factor_throttles" ("user_id", "failures", "blocked_until")
SELECT "id", "mfa_failures", "mfa_blocked_until" FROM "users"
WHERE "mfa_failures" > 0 OR "mfa_blocked_until" IS NOT NULL;

-- AlterTable
ALTER TABLE "users" DROP COLUMN "mfa_blocked_until",
DROP COLUMN "mfa_failures";
