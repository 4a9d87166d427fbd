//! The one schema for both backends (hand-written; see diesel.toml).

diesel::table! {
    vendors (id) {
        id -> Text,
        name -> Text,
        timezone -> Text,
        contracted_attainment -> Nullable<Double>,
        price_per_ticket_cents -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        mask_customer_pii -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    queues (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        vendor_id -> Text,
        assignment_strategy -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        coverage_calendar_id -> Nullable<Text>,
        overflow_queue_id -> Nullable<Text>,
        overflow_minutes -> Nullable<Integer>,
        skill_matching -> Bool,
        handle_seconds -> Nullable<Integer>,
    }
}

diesel::table! {
    agents (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        vendor_id -> Nullable<Text>,
        role -> Text,
        skills -> Text,
        capacity -> Integer,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        shift_calendar_id -> Nullable<Text>,
        available -> Bool,
        open_tickets -> Integer,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        agent_id -> Nullable<Text>,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        email -> Text,
        name -> Nullable<Text>,
        organization -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tickets (id) {
        id -> Text,
        number -> BigInt,
        subject -> Text,
        status -> Text,
        priority -> Text,
        channel -> Text,
        queue_id -> Nullable<Text>,
        assignee_id -> Nullable<Text>,
        customer_id -> Text,
        tags -> Text,
        custom_fields -> Text,
        language -> Nullable<Text>,
        access_token_hash -> Text,
        follow_up_of -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        solved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        sla_policy_id -> Nullable<Text>,
        queued_at -> Nullable<Timestamp>,
        sla_due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    blobs (sha256) {
        sha256 -> Text,
        size -> BigInt,
        content -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        ticket_id -> Text,
        author_kind -> Text,
        author_agent_id -> Nullable<Text>,
        author_customer_id -> Nullable<Text>,
        public -> Bool,
        channel -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        email_message_id -> Nullable<Text>,
        email_in_reply_to -> Nullable<Text>,
        email_references -> Nullable<Text>,
        created_at -> Timestamp,
        automatic -> Bool,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        message_id -> Text,
        blob_sha256 -> Text,
        filename -> Text,
        content_type -> Text,
        size -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> Text,
        ticket_id -> Text,
        kind -> Text,
        actor -> Text,
        data -> Text,
        created_at -> Timestamp,
        feed_position -> Nullable<BigInt>,
        feed_xid -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_hash -> Text,
        ticket_id -> Text,
        created_at -> Timestamp,
        answer -> Nullable<Text>,
    }
}

diesel::joinable!(queues -> vendors (vendor_id));
diesel::joinable!(agents -> vendors (vendor_id));
diesel::joinable!(api_tokens -> agents (agent_id));
diesel::joinable!(tickets -> customers (customer_id));
diesel::joinable!(tickets -> queues (queue_id));
diesel::joinable!(tickets -> agents (assignee_id));
diesel::joinable!(messages -> tickets (ticket_id));
diesel::joinable!(attachments -> messages (message_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));

diesel::allow_tables_to_appear_in_same_query!(
    vendors,
    queues,
    agents,
    api_tokens,
    customers,
    tickets,
    blobs,
    messages,
    attachments,
    ticket_events,
    idempotency_keys,
    inbound_messages,
    ticket_participants,
    outbox,
    outbox_recipients,
    imap_positions,
    app_secrets,
    app_settings,
    calendars,
    calendar_versions,
    routing_rules,
    routing_rule_set,
    queue_rotations,
    sla_policies,
    sla_policy_versions,
    ticket_sla,
    sla_clocks,
    sla_notices,
    ticket_imports,
);

diesel::table! {
    inbound_messages (id) {
        id -> Text,
        dedupe_key -> Text,
        source -> Text,
        raw -> Binary,
        size -> BigInt,
        outcome -> Text,
        reason -> Nullable<Text>,
        ticket_id -> Nullable<Text>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    ticket_participants (ticket_id, email) {
        ticket_id -> Text,
        email -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        ticket_id -> Nullable<Text>,
        kind -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        message_id -> Text,
        in_reply_to -> Nullable<Text>,
        references_header -> Nullable<Text>,
        reply_to -> Nullable<Text>,
        automatic -> Bool,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        to_address -> Nullable<Text>,
    }
}

diesel::table! {
    outbox_recipients (outbox_id, email) {
        outbox_id -> Text,
        email -> Text,
        kind -> Text,
        created_at -> Timestamp,
        outcome -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    imap_positions (mailbox) {
        mailbox -> Text,
        uid_validity -> BigInt,
        last_uid -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    app_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    app_settings (name) {
        name -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    calendars (id) {
        id -> Text,
        vendor_id -> Nullable<Text>,
        name -> Text,
        timezone -> Text,
        weekly -> Text,
        holidays -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    calendar_versions (calendar_id, version) {
        calendar_id -> Text,
        version -> Integer,
        definition -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    routing_rules (id) {
        id -> Text,
        name -> Text,
        position -> Integer,
        enabled -> Bool,
        stop -> Bool,
        conditions -> Text,
        actions -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    routing_rule_set (id) {
        id -> Integer,
        version -> BigInt,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    queue_rotations (queue_id) {
        queue_id -> Text,
        last_agent_id -> Nullable<Text>,
        turns -> BigInt,
    }
}

diesel::table! {
    sla_policies (id) {
        id -> Text,
        name -> Text,
        position -> Integer,
        enabled -> Bool,
        vendor_id -> Nullable<Text>,
        definition -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sla_policy_versions (policy_id, version) {
        policy_id -> Text,
        version -> Integer,
        definition -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_sla (ticket_id) {
        ticket_id -> Text,
        policy_id -> Nullable<Text>,
        policy_version -> Nullable<Integer>,
        due_at -> Nullable<Timestamp>,
        state -> Nullable<Text>,
        attention_at -> Nullable<Timestamp>,
        computed_at -> Timestamp,
    }
}

diesel::table! {
    sla_clocks (ticket_id, metric, cycle) {
        ticket_id -> Text,
        metric -> Text,
        cycle -> Integer,
        policy_id -> Text,
        policy_version -> Integer,
        target_seconds -> BigInt,
        started_at -> Timestamp,
        stopped_at -> Nullable<Timestamp>,
        due_at -> Nullable<Timestamp>,
        warning_at -> Nullable<Timestamp>,
        state -> Text,
        breached_at -> Nullable<Timestamp>,
        business_seconds_used -> BigInt,
        detail -> Text,
        settled_at -> Nullable<Timestamp>,
        queue_id -> Nullable<Text>,
        vendor_id -> Nullable<Text>,
    }
}

diesel::table! {
    sla_notices (ticket_id, metric, cycle, threshold) {
        ticket_id -> Text,
        metric -> Text,
        cycle -> Integer,
        threshold -> Text,
        due_at -> Timestamp,
        noticed_at -> Timestamp,
        withdrawn_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(calendar_versions -> calendars (calendar_id));
diesel::joinable!(ticket_sla -> tickets (ticket_id));
diesel::joinable!(queue_rotations -> queues (queue_id));
diesel::joinable!(inbound_messages -> tickets (ticket_id));
diesel::joinable!(ticket_participants -> tickets (ticket_id));
diesel::joinable!(outbox -> tickets (ticket_id));
diesel::joinable!(outbox_recipients -> outbox (outbox_id));

diesel::table! {
    ticket_imports (external_id) {
        external_id -> Text,
        ticket_id -> Text,
        imported_at -> Timestamp,
    }
}

diesel::joinable!(ticket_imports -> tickets (ticket_id));

diesel::table! {
    csat_surveys (ticket_id) {
        ticket_id -> Text,
        token_hash -> Text,
        requested_at -> Timestamp,
        expires_at -> Timestamp,
        agent_id -> Nullable<Text>,
        queue_id -> Nullable<Text>,
        vendor_id -> Nullable<Text>,
        rating -> Nullable<Text>,
        comment -> Nullable<Text>,
        rated_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(csat_surveys -> tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(csat_surveys, tickets);
