// The one seam between push challenges and the providers that wake a phone
// (Web Push, APNs, FCM: the delivery work fills it). This service needs none of
// them: an app learns of challenges by long-polling GET /v1/authenticator/challenges.
// The payload is the challenge id and its expiry only, so a provider learns nothing
// of the sign-in (PUSH-ANCHORS §5.6).
export type PushAddress =
  | { kind: "webpush"; subscription: { endpoint: string; keys: { p256dh: string; auth: string } } }
  | { kind: "apns"; deviceToken: string }
  | { kind: "fcm"; registrationToken: string };

export interface PushMessage {
  challengeId: string;
  expiresAt: Date;
}

/** "gone": the provider says the address will never work again (the pairing forgets it). */
export type SendOutcome = "sent" | "gone" | "failed";

export interface PushSender {
  /** Never throws. */
  send(address: PushAddress, message: PushMessage): Promise<SendOutcome>;
}

/** No delivery configured; apps long-poll. Sends nothing and says so ("failed"), which never fails a sign-in. */
export const noPushSender: PushSender = { send: async () => "failed" };
