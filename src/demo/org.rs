//! The demo organisation: three vendors in three time zones, their queues
//! and people, the client's manager, and the customers who write in.

use super::content::{self, Lang, Template};
use chrono::{Datelike, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use std::collections::HashSet;

pub struct VendorSpec {
    pub name: &'static str,
    /// For summary variable names: `RELAY_LEAD_{key}`.
    pub key: &'static str,
    pub timezone: &'static str,
    pub contracted_attainment: f64,
    pub price_per_ticket_cents: i64,
    pub currency: &'static str,
    /// Local opening hours, Monday first: `(from, to)` hours, `(0, 0)` closed.
    pub hours: [(u32, u32); 7],
    /// How long this team takes compared to the others (1.0 = typical).
    pub pace: f64,
    pub queues: &'static [QueueSpec],
    pub people: &'static [PersonSpec],
}

pub struct QueueSpec {
    pub slug: &'static str,
    pub name: &'static str,
    pub strategy: &'static str,
    pub lang: Lang,
    /// Relative share of the ticket volume.
    pub weight: u32,
    pub templates: &'static [Template],
    /// Customers are Business-plan companies, not consumers.
    pub business: bool,
}

pub struct PersonSpec {
    pub name: &'static str,
    pub email: &'static str,
    pub lead: bool,
    pub skills: &'static [&'static str],
    pub capacity: i32,
    /// Left the vendor: holds old tickets only, deactivated.
    pub left: bool,
    /// Queue slugs this person works.
    pub works: &'static [&'static str],
}

const fn person(
    name: &'static str,
    email: &'static str,
    skills: &'static [&'static str],
    works: &'static [&'static str],
) -> PersonSpec {
    PersonSpec {
        name,
        email,
        lead: false,
        skills,
        capacity: 12,
        left: false,
        works,
    }
}

pub static VENDORS: &[VendorSpec] = &[
    VendorSpec {
        name: "Manila Support Co",
        key: "MANILA",
        timezone: "Asia/Manila",
        contracted_attainment: 0.95,
        price_per_ticket_cents: 180,
        currency: "USD",
        // Day and night shifts: English queues are staffed around the clock.
        hours: [(0, 24); 7],
        pace: 0.8,
        queues: &[
            QueueSpec {
                slug: "billing-en",
                name: "Billing (English)",
                strategy: "round_robin",
                lang: Lang::En,
                weight: 24,
                templates: content::BILLING_EN,
                business: false,
            },
            QueueSpec {
                slug: "tech-en",
                name: "Technical support (English)",
                strategy: "least_loaded",
                lang: Lang::En,
                weight: 24,
                templates: content::TECH_EN,
                business: false,
            },
        ],
        people: &[
            PersonSpec {
                lead: true,
                capacity: 6,
                ..person(
                    "Maria Santos",
                    "maria.santos@manilasupport.example",
                    &["en", "tl", "billing", "team-lead"],
                    &["billing-en", "tech-en"],
                )
            },
            person(
                "Jose Reyes",
                "jose.reyes@manilasupport.example",
                &["en", "billing"],
                &["billing-en"],
            ),
            PersonSpec {
                capacity: 15,
                ..person(
                    "Angelica Cruz",
                    "angelica.cruz@manilasupport.example",
                    &["en", "billing", "mobile-app"],
                    &["billing-en", "tech-en"],
                )
            },
            person(
                "Mark Villanueva",
                "mark.villanueva@manilasupport.example",
                &["en", "mobile-app", "ios", "web"],
                &["tech-en"],
            ),
            person(
                "Kristine Bautista",
                "kristine.bautista@manilasupport.example",
                &["en", "mobile-app", "android"],
                &["tech-en"],
            ),
            PersonSpec {
                left: true,
                ..person(
                    "Paolo Garcia",
                    "paolo.garcia@manilasupport.example",
                    &["en", "billing"],
                    &["billing-en"],
                )
            },
        ],
    },
    VendorSpec {
        name: "Kraków Contact Center",
        key: "KRAKOW",
        timezone: "Europe/Warsaw",
        contracted_attainment: 0.92,
        price_per_ticket_cents: 240,
        currency: "EUR",
        hours: [(8, 20), (8, 20), (8, 20), (8, 20), (8, 20), (9, 15), (0, 0)],
        pace: 1.0,
        queues: &[
            QueueSpec {
                slug: "general-pl",
                name: "General support (Polish)",
                strategy: "pull",
                lang: Lang::Pl,
                weight: 15,
                templates: content::GENERAL_PL,
                business: false,
            },
            QueueSpec {
                slug: "tech-l2-en",
                name: "Technical tier 2, Business plan (English)",
                strategy: "pull",
                lang: Lang::En,
                weight: 7,
                templates: content::TIER2_EN,
                business: true,
            },
        ],
        people: &[
            PersonSpec {
                lead: true,
                capacity: 6,
                ..person(
                    "Katarzyna Nowak",
                    "katarzyna.nowak@krakowcc.example",
                    &["pl", "en", "de", "team-lead"],
                    &["general-pl", "tech-l2-en"],
                )
            },
            person(
                "Piotr Kowalski",
                "piotr.kowalski@krakowcc.example",
                &["pl", "billing", "mobile-app"],
                &["general-pl"],
            ),
            person(
                "Agnieszka Wiśniewska",
                "agnieszka.wisniewska@krakowcc.example",
                &["pl", "en", "mobile-app"],
                &["general-pl"],
            ),
            PersonSpec {
                capacity: 8,
                ..person(
                    "Tomasz Wójcik",
                    "tomasz.wojcik@krakowcc.example",
                    &["en", "api", "sso", "tier-2"],
                    &["tech-l2-en"],
                )
            },
            PersonSpec {
                capacity: 8,
                ..person(
                    "Marta Kamińska",
                    "marta.kaminska@krakowcc.example",
                    &["en", "pl", "api", "tier-2"],
                    &["tech-l2-en", "general-pl"],
                )
            },
        ],
    },
    VendorSpec {
        name: "Bogotá CX",
        key: "BOGOTA",
        timezone: "America/Bogota",
        contracted_attainment: 0.90,
        price_per_ticket_cents: 150,
        currency: "USD",
        hours: [(7, 21), (7, 21), (7, 21), (7, 21), (7, 21), (8, 16), (0, 0)],
        pace: 1.3,
        queues: &[
            QueueSpec {
                slug: "billing-es",
                name: "Facturación (español)",
                strategy: "round_robin",
                lang: Lang::Es,
                weight: 14,
                templates: content::BILLING_ES,
                business: false,
            },
            QueueSpec {
                slug: "general-es",
                name: "Soporte general (español)",
                strategy: "pull",
                lang: Lang::Es,
                weight: 13,
                templates: content::GENERAL_ES,
                business: false,
            },
        ],
        people: &[
            PersonSpec {
                lead: true,
                capacity: 6,
                ..person(
                    "Valentina Rodríguez",
                    "valentina.rodriguez@bogotacx.example",
                    &["es", "en", "team-lead"],
                    &["billing-es", "general-es"],
                )
            },
            person(
                "Santiago Martínez",
                "santiago.martinez@bogotacx.example",
                &["es", "billing"],
                &["billing-es"],
            ),
            person(
                "Camila López",
                "camila.lopez@bogotacx.example",
                &["es", "billing", "mobile-app"],
                &["billing-es", "general-es"],
            ),
            person(
                "Juan Pablo Herrera",
                "juanpablo.herrera@bogotacx.example",
                &["es", "mobile-app", "android"],
                &["general-es"],
            ),
            person(
                "Daniela Castro",
                "daniela.castro@bogotacx.example",
                &["es", "en", "web"],
                &["general-es"],
            ),
        ],
    },
];

pub const MANAGER_NAME: &str = "Dana Whitfield";
pub const MANAGER_EMAIL: &str = "dana.whitfield@lumen.example";

impl VendorSpec {
    pub fn tz(&self) -> Tz {
        self.timezone.parse().expect("demo time zones are valid")
    }

    fn is_open(&self, utc: NaiveDateTime) -> bool {
        let local = self.tz().from_utc_datetime(&utc);
        let (from, to) = self.hours[local.weekday().num_days_from_monday() as usize];
        (from..to).contains(&local.hour())
    }

    /// The first moment at or after `utc` when this vendor is staffed (work
    /// that arrives at night waits for the morning shift).
    pub fn staffed(&self, utc: NaiveDateTime) -> NaiveDateTime {
        if self.is_open(utc) {
            return utc;
        }
        let hour_start = utc
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(utc);
        for hours in 1..=24 * 8 {
            let candidate = hour_start + chrono::Duration::hours(hours);
            if self.is_open(candidate) {
                // People start their shift with a coffee, not on the second.
                return candidate + chrono::Duration::minutes(i64::from(utc.minute() % 25) + 3);
            }
        }
        utc
    }
}

/// Someone who writes to support.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub first: String,
    pub email: String,
    pub organization: Option<String>,
    pub tz: Tz,
}

struct Names {
    first: &'static [&'static str],
    last: &'static [&'static str],
    free_mail: &'static [&'static str],
    companies: &'static [(&'static str, &'static str)],
    zones: &'static [&'static str],
}

static EN_NAMES: Names = Names {
    first: &[
        "Emily", "James", "Olivia", "Michael", "Sophia", "Daniel", "Hannah", "Ryan", "Grace",
        "Ethan", "Chloe", "Nathan", "Megan", "Tyler", "Laura", "Kevin", "Rachel", "Brandon", "Amy",
        "Owen", "Priya", "Wei", "Aisha", "Liam",
    ],
    last: &[
        "Johnson", "Miller", "Thompson", "Walker", "Harris", "Clarke", "Patel", "Nguyen",
        "Robinson", "Wright", "Evans", "Turner", "Hughes", "Bennett", "Brooks", "Foster", "Murphy",
        "Chen",
    ],
    free_mail: &["mailbox.example", "inbox.example", "post.example"],
    companies: &[
        ("Northwind Traders", "northwind.example"),
        ("Tailspin Toys", "tailspin.example"),
        ("Contoso Photography", "contoso.example"),
        ("Blue Yonder Events", "blueyonder.example"),
    ],
    zones: &[
        "America/New_York",
        "America/Chicago",
        "America/Los_Angeles",
        "Europe/London",
        "Australia/Sydney",
    ],
};

static BUSINESS_NAMES: Names = Names {
    first: &[
        "Sarah", "David", "Jennifer", "Mark", "Lisa", "Andrew", "Natalie", "Chris",
    ],
    last: &[
        "Coleman", "Fischer", "Larsen", "O'Brien", "Keller", "Moreau",
    ],
    free_mail: &[],
    companies: &[
        ("Fabrikam Retail", "fabrikam.example"),
        ("Adventure Works", "adventureworks.example"),
        ("Wingtip Studios", "wingtip.example"),
        ("Litware Media", "litware.example"),
        ("Proseware Inc", "proseware.example"),
    ],
    zones: &["America/New_York", "Europe/London", "Europe/Berlin"],
};

static ES_NAMES: Names = Names {
    first: &[
        "Alejandro",
        "Sofía",
        "Mateo",
        "Valeria",
        "Sebastián",
        "Isabella",
        "Nicolás",
        "Mariana",
        "Diego",
        "Gabriela",
        "Andrés",
        "Luisa",
        "Felipe",
        "Paula",
        "Carlos",
        "Lucía",
    ],
    last: &[
        "García",
        "Rodríguez",
        "Martínez",
        "Hernández",
        "Gómez",
        "Díaz",
        "Vargas",
        "Ramírez",
        "Torres",
        "Moreno",
        "Rojas",
        "Jiménez",
    ],
    free_mail: &["correo.example", "buzon.example"],
    companies: &[
        ("Café La Montaña", "lamontana.example"),
        ("Estudio Andino", "estudioandino.example"),
        ("Eventos Caribe", "eventoscaribe.example"),
    ],
    zones: &[
        "America/Bogota",
        "America/Mexico_City",
        "America/Lima",
        "Europe/Madrid",
    ],
};

static PL_NAMES: Names = Names {
    first: &[
        "Anna",
        "Piotr",
        "Magdalena",
        "Krzysztof",
        "Joanna",
        "Paweł",
        "Małgorzata",
        "Michał",
        "Ewa",
        "Łukasz",
        "Zofia",
        "Jakub",
    ],
    last: &[
        "Zielińska",
        "Szymański",
        "Woźniak",
        "Dąbrowski",
        "Lewandowska",
        "Kaczmarek",
        "Mazur",
        "Krawczyk",
        "Grabowski",
    ],
    free_mail: &["poczta.example", "skrzynka.example"],
    companies: &[
        ("Foto Wawel", "fotowawel.example"),
        ("Drukarnia Sowa", "drukarniasowa.example"),
    ],
    zones: &["Europe/Warsaw"],
};

/// `Łukasz Dąbrowski` -> `lukasz.dabrowski`.
fn mailbox_name(first: &str, last: &str) -> String {
    format!("{first}.{last}")
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            Some(match c {
                'á' | 'ą' => 'a',
                'ć' => 'c',
                'é' | 'ę' => 'e',
                'í' => 'i',
                'ł' => 'l',
                'ñ' | 'ń' => 'n',
                'ó' => 'o',
                'ś' => 's',
                'ú' | 'ü' => 'u',
                'ź' | 'ż' => 'z',
                '\'' => return None,
                c => c,
            })
        })
        .collect()
}

/// A pool of customers writing in one language. Lower indices write more
/// often, so some customers come back several times.
pub struct CustomerPool {
    pub lang: Lang,
    pub business: bool,
    pub people: Vec<Person>,
}

impl CustomerPool {
    pub fn generate(
        rng: &mut StdRng,
        lang: Lang,
        business: bool,
        size: usize,
        taken: &mut HashSet<String>,
        new_id: &mut impl FnMut(&mut StdRng) -> String,
    ) -> Self {
        let names = match (lang, business) {
            (_, true) => &BUSINESS_NAMES,
            (Lang::En, false) => &EN_NAMES,
            (Lang::Es, false) => &ES_NAMES,
            (Lang::Pl, false) => &PL_NAMES,
        };
        let mut people = Vec::with_capacity(size);
        while people.len() < size {
            let first = *names.first.choose(rng).expect("names");
            let last = *names.last.choose(rng).expect("names");
            let company = business || rng.random_bool(0.2);
            let (organization, domain) = if company {
                let (org, domain) = *names.companies.choose(rng).expect("companies");
                (Some(org.to_string()), domain)
            } else {
                (None, *names.free_mail.choose(rng).expect("mail domains"))
            };
            let mut email = format!("{}@{domain}", mailbox_name(first, last));
            if !taken.insert(email.clone()) {
                email = format!("{}{}@{domain}", mailbox_name(first, last), people.len());
                if !taken.insert(email.clone()) {
                    continue;
                }
            }
            let tz = names.zones.choose(rng).expect("zones").parse().expect("tz");
            people.push(Person {
                id: new_id(rng),
                name: format!("{first} {last}"),
                first: first.to_string(),
                email,
                organization,
                tz,
            });
        }
        CustomerPool {
            lang,
            business,
            people,
        }
    }

    /// Skewed pick: a few regulars write often, most write once.
    pub fn pick(&self, rng: &mut StdRng) -> usize {
        let u: f64 = rng.random();
        ((u * u) * self.people.len() as f64) as usize % self.people.len()
    }
}
