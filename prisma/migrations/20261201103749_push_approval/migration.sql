-- AlterTable
ALTER TABLE "totp_factors" ADD COLUMN     "drift_streak" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "push_authenticators" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "status" TEXT NOT NULL,
    "pairing_token_hash" TEXT,
    "started_by" TEXT NOT NULL,
    "pairing_expires_at" TIMESTAMPTZ(3) NOT NULL,
    "name" TEXT,
    "public_jwk" JSONB,
    "thumbprint" TEXT,
    "algorithm" TEXT,
    "push_address" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "confirmed_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "push_authenticators_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "push_challenges" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "mfa_challenge_id" UUID NOT NULL,
    "status" TEXT NOT NULL,
    "number_to_match" TEXT NOT NULL,
    "remember_device" BOOLEAN NOT NULL DEFAULT false,
    "device_name" TEXT,
    "client_address" TEXT,
    "user_agent" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "answered_at" TIMESTAMPTZ(3),
    "authenticator_id" UUID,
    "reason" TEXT,

    CONSTRAINT "push_challenges_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "push_throttles" (
    "user_id" UUID NOT NULL,
    "unapproved" INTEGER NOT NULL DEFAULT 0,
    "last_push_at" TIMESTAMPTZ(3),
    "next_push_at" TIMESTAMPTZ(3),
    "blocked_until" TIMESTAMPTZ(3),

    CONSTRAINT "push_throttles_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "push_authenticators_pairing_token_hash_key" ON "push_authenticators"("pairing_token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "push_authenticators_thumbprint_key" ON "push_authenticators"("thumbprint");

-- CreateIndex
CREATE INDEX "push_authenticators_user_id_status_idx" ON "push_authenticators"("user_id", "status");

-- CreateIndex
CREATE INDEX "push_challenges_user_id_status_idx" ON "push_challenges"("user_id", "status");

-- AddForeignKey
ALTER TABLE "push_authenticators" ADD CONSTRAINT "push_authenticators_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "push_challenges" ADD CONSTRAINT "push_challenges_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "push_challenges" ADD CONSTRAINT "push_challenges_authenticator_id_fkey" FOREIGN KEY ("authenticator_id") REFERENCES "push_authenticators"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "push_throttles" ADD CONSTRAINT "push_throttles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
