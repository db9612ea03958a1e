// Stripe's test-mode PaymentMethod ids (docs.stripe.com/testing) and what confirming with each one does.
// Any other id is answered like Stripe answers an unknown PaymentMethod: 400 resource_missing.

export interface Decline {
  /** `error.code`: card_declined, expired_card, incorrect_cvc, processing_error, authentication_required… */
  code: string;
  declineCode: string;
  message: string;
}

export type CardOutcome =
  | { kind: 'succeed' }
  | { kind: 'decline'; decline: Decline }
  /** 3-D Secure: the intent goes to requires_action; `afterAuth` is what happens once the customer passes it. */
  | { kind: 'authenticate'; afterAuth: { kind: 'succeed' } | { kind: 'decline'; decline: Decline } }
  /**
   * Settles asynchronously (bank debits do: docs.stripe.com/payments/paymentintents/lifecycle): the intent
   * stays `processing` until settled — by `settleProcessing()` or after `processingSettleMs` — with
   * `afterSettle` as the default outcome.
   */
  | { kind: 'processing'; afterSettle: { kind: 'succeed' } | { kind: 'decline'; decline: Decline } };

export interface TestCard {
  brand: string;
  last4: string;
  country: string;
  outcome: CardOutcome;
}

const GENERIC = 'Your card was declined.';

function declined(declineCode: string, message = GENERIC, code = 'card_declined'): CardOutcome {
  return { kind: 'decline', decline: { code, declineCode, message } };
}

const ok: CardOutcome = { kind: 'succeed' };

const CARDS: Record<string, TestCard> = {
  pm_card_visa: { brand: 'visa', last4: '4242', country: 'US', outcome: ok },
  pm_card_visa_debit: { brand: 'visa', last4: '5556', country: 'US', outcome: ok },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444', country: 'US', outcome: ok },
  pm_card_amex: { brand: 'amex', last4: '8431', country: 'US', outcome: ok },
  pm_card_chargeDeclined: {
    brand: 'visa',
    last4: '0002',
    country: 'US',
    outcome: declined('generic_decline'),
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '9995',
    country: 'US',
    outcome: declined('insufficient_funds', 'Your card has insufficient funds.'),
  },
  pm_card_chargeDeclinedLostCard: {
    brand: 'visa',
    last4: '9987',
    country: 'US',
    outcome: declined('lost_card'),
  },
  pm_card_chargeDeclinedStolenCard: {
    brand: 'visa',
    last4: '9979',
    country: 'US',
    outcome: declined('stolen_card'),
  },
  pm_card_chargeDeclinedFraudulent: {
    brand: 'visa',
    last4: '0019',
    country: 'US',
    outcome: declined('fraudulent'),
  },
  pm_card_chargeDeclinedExpiredCard: {
    brand: 'visa',
    last4: '0069',
    country: 'US',
    outcome: declined('expired_card', 'Your card has expired.', 'expired_card'),
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    brand: 'visa',
    last4: '0127',
    country: 'US',
    outcome: declined('incorrect_cvc', "Your card's security code is incorrect.", 'incorrect_cvc'),
  },
  pm_card_chargeDeclinedProcessingError: {
    brand: 'visa',
    last4: '0119',
    country: 'US',
    outcome: declined(
      'processing_error',
      'An error occurred while processing your card. Try again in a little bit.',
      'processing_error',
    ),
  },
  pm_card_authenticationRequired: {
    brand: 'visa',
    last4: '3184',
    country: 'DE',
    outcome: { kind: 'authenticate', afterAuth: ok },
  },
  pm_card_threeDSecure2Required: {
    brand: 'visa',
    last4: '3220',
    country: 'US',
    outcome: { kind: 'authenticate', afterAuth: ok },
  },
  pm_card_authenticationRequiredChargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '3178',
    country: 'DE',
    outcome: {
      kind: 'authenticate',
      afterAuth: {
        kind: 'decline',
        decline: {
          code: 'card_declined',
          declineCode: 'insufficient_funds',
          message: 'Your card has insufficient funds.',
        },
      },
    },
  },
  // Not Stripe ids (no card goes `processing` in test mode): the `pm_fake_` prefix says so. They stand in
  // for an asynchronous method such as SEPA Direct Debit, which Stripe settles minutes to days later.
  pm_fake_processing: {
    brand: 'visa',
    last4: '1000',
    country: 'DE',
    outcome: { kind: 'processing', afterSettle: ok },
  },
  pm_fake_processingThenFail: {
    brand: 'visa',
    last4: '1001',
    country: 'DE',
    outcome: {
      kind: 'processing',
      afterSettle: {
        kind: 'decline',
        decline: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Insufficient funds.' },
      },
    },
  },
};

export function lookupTestCard(paymentMethodId: string): TestCard | undefined {
  return Object.prototype.hasOwnProperty.call(CARDS, paymentMethodId) ? CARDS[paymentMethodId] : undefined;
}

export const TEST_PAYMENT_METHODS: readonly string[] = Object.keys(CARDS);

/** What an off-session payment (or error_on_requires_action) gets instead of requires_action. */
export const AUTHENTICATION_REQUIRED: Decline = {
  code: 'authentication_required',
  declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

/** last_payment_error after the customer fails (or abandons) 3-D Secure. */
export const AUTHENTICATION_FAILED: Decline = {
  code: 'payment_intent_authentication_failure',
  declineCode: '',
  message:
    'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
};
