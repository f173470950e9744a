import t from "tap";
import { generateRecoveryCode, normalizeRecoveryCode } from "../../src/lib/recovery-codes.ts";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DISPLAY = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;

t.test("recovery codes carry 80 bits and no duplicates in 1,000", async (t) => {
  const codes = Array.from({ length: 1000 }, generateRecoveryCode);
  t.equal(ALPHABET.length ** 16, 2 ** 80, "16 characters of a 32-letter alphabet are 80 bits");
  t.ok(codes.every(({ code }) => DISPLAY.test(code)), "every code matches the display format (RC-01)");
  t.equal(new Set(codes.map(({ secret }) => secret)).size, 1000);

  // 16,000 characters: every letter should appear near 500 times if all 5 bits of each are random.
  const counts = new Map<string, number>();
  for (const { secret } of codes) for (const c of secret) counts.set(c, (counts.get(c) ?? 0) + 1);
  t.equal(counts.size, 32, "every letter of the alphabet is used");
  t.ok([...counts.values()].every((n) => n > 380 && n < 620), "letters are evenly spread");
});

t.test("the stored secret derives from the displayed code", async (t) => {
  const { code, secret } = generateRecoveryCode();
  t.equal(secret, code.replaceAll("-", ""));
  t.equal(normalizeRecoveryCode(code), secret);
});

t.test("input is case-, space- and dash-insensitive", async (t) => {
  const expected = "7K3MQ9ZXA2BC4DEF";
  for (const typed of [
    "7K3M-Q9ZX-A2BC-4DEF",
    "7k3m-q9zx-a2bc-4def",
    "7k3mq9zxa2bc4def",
    " 7K3M Q9ZX A2BC 4DEF ",
    "7K3M--Q9ZX - a2bc\t4DEF",
  ]) {
    t.equal(normalizeRecoveryCode(typed), expected, JSON.stringify(typed));
  }
});

t.test("Crockford aliases O, I and L read as 0, 1 and 1", async (t) => {
  t.equal(normalizeRecoveryCode("OIL0-oil1-AAAA-BBBB"), "01100111AAAABBBB");
});

t.test("anything but 16 alphabet characters is refused", async (t) => {
  const refused = [
    "",
    "7K3M-Q9ZX-A2BC-4DE",
    "7K3M-Q9ZX-A2BC-4DEF0",
    "7K3M-Q9ZX-A2BC-4DEU",
    "7K3M_Q9ZX_A2BC_4DEF",
    "7K3M.Q9ZX.A2BC.4DEF",
    "７K3M-Q9ZX-A2BC-4DEF",
    "ıK3M-Q9ZX-A2BC-4DEF",
    "ſK3M-Q9ZX-A2BC-4DEF",
    "7K3M-Q9ZX-A2BC-4DE🙂",
    "A".repeat(10_000),
  ];
  for (const input of refused) t.equal(normalizeRecoveryCode(input), null, JSON.stringify(input.slice(0, 30)));
});
