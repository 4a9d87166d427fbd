//! Ticket enums and the status machine.

text_enum!(
    /// Where a ticket is in its life.
    Status {
        New => "new",
        Open => "open",
        Pending => "pending",
        OnHold => "on_hold",
        Solved => "solved",
        Closed => "closed",
    }
);

text_enum!(
    Priority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
);

text_enum!(
    /// How the ticket reached us.
    Channel {
        Email => "email",
        Web => "web",
        Api => "api",
    }
);

text_enum!(
    /// Who wrote a message.
    AuthorKind {
        Customer => "customer",
        Agent => "agent",
        System => "system",
    }
);

impl Status {
    /// Whether an agent may move a ticket from `self` to `to`.
    ///
    /// `new` is only ever the initial state; `closed` is final (a later reply
    /// starts a follow-up ticket); a ticket is closed only after it was solved,
    /// so that the customer had the chance to answer the solution.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        if self == to {
            return true;
        }
        match (self, to) {
            (_, New) | (Closed, _) => false,
            (Solved, Open) | (Solved, Closed) => true,
            (Solved, _) => false,
            (_, Closed) => false,
            _ => true,
        }
    }

    /// Statuses in which a customer's reply puts the ticket back in front of agents.
    pub fn reopens_on_customer_reply(self) -> bool {
        matches!(self, Status::Pending | Status::Solved)
    }

    pub fn is_final(self) -> bool {
        self == Status::Closed
    }
}

impl Priority {
    /// Sort weight, higher is more urgent.
    pub fn urgency(self) -> i32 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    #[test]
    fn status_machine_allows_the_documented_paths() {
        let allowed = [
            (New, Open),
            (New, Pending),
            (New, OnHold),
            (New, Solved),
            (Open, Pending),
            (Open, OnHold),
            (Open, Solved),
            (Pending, Open),
            (Pending, OnHold),
            (Pending, Solved),
            (OnHold, Open),
            (OnHold, Pending),
            (OnHold, Solved),
            (Solved, Open),
            (Solved, Closed),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                let expected = from == to || allowed.contains(&(*from, *to));
                assert_eq!(
                    from.can_become(*to),
                    expected,
                    "{from} -> {to} should be {}",
                    if expected { "allowed" } else { "refused" }
                );
            }
        }
    }

    #[test]
    fn enums_parse_their_own_text_and_refuse_others() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
        }
        let err = "urgentish".parse::<Priority>().unwrap_err();
        assert!(err.contains("low, normal, high, urgent"), "{err}");
    }
}
