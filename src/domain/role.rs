//! Who a bearer token speaks for, and what each role may do.

text_enum!(
    /// Roles ordered from least to most privileged, except `Intake`, which is
    /// a machine role outside the ladder: it may only create tickets and
    /// deliver mail.
    Role {
        Intake => "intake",
        Agent => "agent",
        Lead => "lead",
        Manager => "manager",
        Admin => "admin",
    }
);

impl Role {
    /// Agents and leads work for one vendor and only ever see that vendor's work.
    pub fn is_vendor_scoped(self) -> bool {
        matches!(self, Role::Agent | Role::Lead)
    }

    /// May read and work tickets (everyone but the intake machine role).
    pub fn works_tickets(self) -> bool {
        !matches!(self, Role::Intake)
    }

    /// Client-company staff: routing, queues, vendors, reports across vendors.
    pub fn is_manager_or_above(self) -> bool {
        matches!(self, Role::Manager | Role::Admin)
    }

    /// The role an agent record may hold (intake is for machines only).
    pub fn is_person_role(self) -> bool {
        !matches!(self, Role::Intake)
    }

    fn rank(self) -> u8 {
        match self {
            Role::Intake => 0,
            Role::Agent => 1,
            Role::Lead => 2,
            Role::Manager => 3,
            Role::Admin => 4,
        }
    }

    /// Whether a person holding `self` may be issued a token of `other`.
    pub fn covers(self, other: Role) -> bool {
        other != Role::Intake && self.rank() >= other.rank()
    }

    /// What a token of role `self` may do for a person who holds
    /// `person_role` now: the lower of the two on the ladder, so demoting a
    /// person narrows their tokens at once and promoting them never widens a
    /// token beyond the role it was issued with.
    pub fn capped_by(self, person_role: Role) -> Role {
        if self.rank() <= person_role.rank() {
            self
        } else {
            person_role
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_text() {
        for &role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn a_person_cannot_be_issued_a_higher_role_or_intake() {
        assert!(Role::Lead.covers(Role::Agent));
        assert!(!Role::Agent.covers(Role::Lead));
        assert!(!Role::Admin.covers(Role::Intake));
    }

    #[test]
    fn a_token_does_the_lower_of_its_role_and_its_persons_role() {
        assert_eq!(Role::Lead.capped_by(Role::Agent), Role::Agent);
        assert_eq!(Role::Manager.capped_by(Role::Agent), Role::Agent);
        assert_eq!(Role::Agent.capped_by(Role::Admin), Role::Agent);
        assert_eq!(Role::Lead.capped_by(Role::Lead), Role::Lead);
    }
}
