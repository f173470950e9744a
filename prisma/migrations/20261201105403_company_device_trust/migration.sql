-- AlterTable
ALTER TABLE "companies" ADD COLUMN     "trusted_device_days" INTEGER;
