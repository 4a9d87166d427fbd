//! The states of mail on its way out.

text_enum!(
    /// What a message is for; acknowledgements are rate-limited per recipient.
    OutgoingKind {
        Acknowledgement => "acknowledgement",
        Reply => "reply",
        Notification => "notification",
    }
);

text_enum!(
    /// Where an outbox message is in its life: `pending` (waiting for its
    /// next attempt), `sending` (claimed by a sender delivering it now),
    /// `sent`, `failed` (given up after `outbox.max_attempts`; an admin may
    /// retry it).
    OutboxStatus {
        Pending => "pending",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
    }
);

text_enum!(
    /// What became of one recipient of an outbox message.
    RecipientOutcome {
        Delivered => "delivered",
        Refused => "refused",
    }
);
