//! The OpenAPI document, generated from the handlers' annotations, and the
//! offline Swagger UI that renders it.

use super::{
    attachments, calendars, directory, feed, import, inbound, intake_settings, ops, outbox,
    reports, routing, sla, tickets, workload,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Relay API", description = "Help-desk ticketing for outsourced, multi-vendor support. Errors are RFC 9457 problem documents."),
    modifiers(&BearerAuth),
    paths(
        tickets::create_ticket, tickets::list_tickets, tickets::get_ticket, tickets::update_ticket,
        tickets::add_message, tickets::list_messages, tickets::list_events,
        attachments::download_attachment,
        directory::create_vendor, directory::list_vendors, directory::get_vendor, directory::update_vendor, directory::delete_vendor,
        directory::create_queue, directory::list_queues, directory::get_queue, directory::update_queue, directory::delete_queue,
        directory::create_agent, directory::list_agents, directory::get_agent, directory::update_agent, directory::deactivate_agent,
        calendars::create_calendar, calendars::list_calendars, calendars::get_calendar, calendars::update_calendar, calendars::delete_calendar,
        calendars::import_holidays, calendars::calendar_open,
        feed::list_feed,
        workload::claim_next, workload::queue_tickets, workload::release_ticket, workload::my_tickets, workload::set_availability,
        routing::create_rule, routing::list_rules, routing::get_rule, routing::update_rule, routing::delete_rule, routing::test_rules, routing::simulate_rules, routing::route_ticket,
        sla::create_policy, sla::list_policies, sla::get_policy, sla::update_policy, sla::delete_policy, sla::ticket_sla, sla::recompute_clocks,
        reports::staffing_calculator, reports::backlog_report, reports::sla_report, reports::vendors_report, reports::coverage_report,
        directory::create_token, directory::list_tokens, directory::revoke_token,
        inbound::inbound_email,
        import::import_tickets,
        intake_settings::get_public_fields, intake_settings::put_public_fields,
        outbox::list_outbox, outbox::retry_outbox,
        ops::healthz, ops::readyz, ops::metrics,
    ),
    // Every event kind with its payload (what `GET /tickets/{id}/events`
    // shows in `kind` and `data`), and the import's records by name.
    components(schemas(
        crate::domain::event::EventData,
        crate::intake::import::ImportRequest, crate::intake::import::ImportTicket,
        crate::intake::import::ImportMessage, crate::intake::import::ImportStatusChange,
        crate::intake::import::ImportPriorityChange, crate::intake::import::ImportQueueChange,
        crate::intake::import::ImportAssignment, crate::intake::import::ImportAnswer,
        crate::intake::import::Imported,
    ))
)]
pub struct ApiDoc;
