-- What a billing system's ids name: a Stripe customer (from a checkout's
-- client_reference_id or metadata) or a charge (from a paid invoice) → the
-- host's account, or (a charge whose customer is not linked yet) the
-- customer, resolved when its link comes. Learnt from the events
-- themselves (core's `stripe::Mapped::links`), so refunds, disputes and
-- cancellations that name only those find the referral.
CREATE TABLE billing_links (
    external_id TEXT PRIMARY KEY,
    account TEXT,
    customer TEXT,
    created_at BIGINT NOT NULL
);
