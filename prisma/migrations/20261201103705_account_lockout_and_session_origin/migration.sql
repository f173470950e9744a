-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "client_address" TEXT,
ADD COLUMN     "user_agent" TEXT;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "disabled_at" TIMESTAMPTZ(3),
ADD COLUMN     "password_failures" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "password_locked_at" TIMESTAMPTZ(3);
