//! What the demo's customers write and its agents answer.
//!
//! The client company is "Lumen", a photo backup and sharing subscription
//! (mobile apps, a web app, and a Business plan with an API). Placeholders in
//! braces are filled per ticket: `{amount}`, `{invoice}`, `{order}`,
//! `{date}`, `{device}`, `{version}`, `{case}`, `{lead}`, `{org}`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
    Pl,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::Pl => "pl",
        }
    }
}

/// How a conversation unfolds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The first reply answers it and the ticket is solved.
    Answer,
    /// The agent needs details: pending until the customer answers, then solved.
    AskInfo,
    /// Waiting on a third party (engineering, payments): on hold, then solved.
    ThirdParty,
}

pub struct Template {
    pub subject: &'static str,
    /// The customer's first message (greeting and signature are added).
    pub body: &'static str,
    pub flow: Flow,
    pub priority: &'static str,
    pub tags: &'static [&'static str],
    /// The agent's first public reply.
    pub reply: &'static str,
    /// AskInfo: the customer's answer. ThirdParty: the internal note when the
    /// third party is done.
    pub follow: &'static str,
    /// The agent's solving reply (AskInfo, ThirdParty).
    pub resolve: &'static str,
    /// An internal note; empty for none.
    pub note: &'static str,
    /// `billing` or `tech`: which custom fields the ticket carries.
    pub kind: &'static str,
}

/// Phrases that frame every conversation in one language.
pub struct Phrases {
    pub customer_greeting: &'static str,
    pub customer_signoff: &'static str,
    pub agent_greeting: &'static str,
    pub agent_signoff: &'static str,
    /// A customer chasing an unanswered ticket.
    pub chaser: &'static [&'static str],
    /// A customer's thanks after the solution (it re-opens the ticket).
    pub thanks: &'static [&'static str],
    /// An agent's first answer when the question needs looking into.
    pub looking_into_it: &'static str,
    /// The agent solving a pending ticket the customer never answered.
    pub no_response: &'static str,
    pub months: [&'static str; 12],
}

pub fn phrases(lang: Lang) -> &'static Phrases {
    match lang {
        Lang::En => &EN,
        Lang::Es => &ES,
        Lang::Pl => &PL,
    }
}

static EN: Phrases = Phrases {
    customer_greeting: "Hi,",
    customer_signoff: "Thanks,\n{first}",
    agent_greeting: "Hi {first},",
    agent_signoff: "Best regards,\n{agent}\nLumen Support",
    chaser: &[
        "Any update on this? I'm still waiting for an answer.",
        "Hello? It's been a while and I haven't heard anything back.",
        "Just following up on my message below, this is getting urgent for me.",
    ],
    thanks: &[
        "Thanks a lot, that fixed it!",
        "Perfect, thank you for the quick help.",
        "All good now. Really appreciate it!",
    ],
    looking_into_it: "Thanks for reaching out. I'm looking into this now and will get back to you as soon as I have an answer.",
    no_response: "We haven't heard back from you, so I'm marking this ticket as solved for now. If you still need help, just reply to this message and the ticket will reopen.",
    months: [
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ],
};

static ES: Phrases = Phrases {
    customer_greeting: "Hola,",
    customer_signoff: "Gracias,\n{first}",
    agent_greeting: "Hola, {first}:",
    agent_signoff: "Saludos,\n{agent}\nSoporte Lumen",
    chaser: &[
        "Hola, ¿alguna novedad? Sigo esperando respuesta.",
        "Buenas, les escribí hace rato y no he tenido respuesta. ¿Me pueden ayudar?",
    ],
    thanks: &[
        "¡Muchas gracias, ya quedó!",
        "Perfecto, mil gracias por la ayuda.",
    ],
    looking_into_it: "Gracias por escribirnos. Ya estoy revisando tu caso y te respondo apenas tenga una respuesta.",
    no_response: "Como no hemos recibido respuesta, marco este caso como resuelto por ahora. Si todavía necesitas ayuda, solo responde a este mensaje y el caso se vuelve a abrir.",
    months: [
        "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
        "octubre", "noviembre", "diciembre",
    ],
};

static PL: Phrases = Phrases {
    customer_greeting: "Dzień dobry,",
    customer_signoff: "Pozdrawiam,\n{customer}",
    agent_greeting: "Dzień dobry,",
    agent_signoff: "Pozdrawiam serdecznie,\n{agent}\nZespół wsparcia Lumen",
    chaser: &[
        "Czy jest jakaś informacja w tej sprawie? Nadal czekam na odpowiedź.",
        "Ponawiam pytanie, sprawa jest dla mnie pilna.",
    ],
    thanks: &[
        "Dziękuję, wszystko działa!",
        "Super, dziękuję za szybką pomoc.",
    ],
    looking_into_it: "dziękujemy za wiadomość. Sprawdzamy sprawę i wrócimy z odpowiedzią najszybciej, jak to możliwe.",
    no_response: "Ponieważ nie otrzymaliśmy odpowiedzi, oznaczamy zgłoszenie jako rozwiązane. Jeśli pomoc jest nadal potrzebna, wystarczy odpowiedzieć na tę wiadomość, a zgłoszenie zostanie ponownie otwarte.",
    months: [
        "stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
        "września", "października", "listopada", "grudnia",
    ],
};

/// English billing questions (Manila, `billing-en`).
pub static BILLING_EN: &[Template] = &[
    Template {
        subject: "Charged twice for my Plus subscription",
        body: "I just checked my bank statement and Lumen charged me {amount} twice on {date}. I only have one account (this email). Can you please refund the duplicate charge?",
        flow: Flow::Answer,
        priority: "high",
        tags: &["billing", "refund", "duplicate-charge"],
        reply: "I checked your account and you're right: the payment for invoice {invoice} went through twice on {date}. I've refunded the duplicate {amount}; depending on your bank it will show up within 5-10 business days. Sorry for the trouble!",
        follow: "",
        resolve: "",
        note: "Confirmed two captures for {invoice} in the billing console and refunded the second one. Same checkout retry bug as ENG-4398.",
        kind: "billing",
    },
    Template {
        subject: "Refund request - forgot to cancel my trial",
        body: "My free trial turned into a paid year and I was charged {amount}. I honestly forgot to cancel and I don't need the Plus plan. Is a refund possible?",
        flow: Flow::AskInfo,
        priority: "normal",
        tags: &["billing", "refund", "trial"],
        reply: "I'm sorry the trial rolled over without you noticing. To process the refund I need the order number from the receipt email (it starts with LM-), or the last 4 digits of the card that was charged.",
        follow: "Sure, the order number is {order}. Thanks for helping!",
        resolve: "Thank you! I've cancelled the Plus subscription and refunded {amount} for order {order}. Your account goes back to the Free plan today; none of your photos are deleted.",
        note: "Renewal was 3 days ago, first refund on this account: policy allows a full refund. Done in the billing console.",
        kind: "billing",
    },
    Template {
        subject: "How do I download my invoices?",
        body: "Our accountant needs PDF invoices for all Lumen payments this year. Where can I find them?",
        flow: Flow::Answer,
        priority: "low",
        tags: &["billing", "invoice"],
        reply: "You can download every invoice as a PDF in the web app under Settings > Billing > Invoices; each line has a download button. If you add your company name and VAT number under Billing details, they appear on all future invoices.",
        follow: "",
        resolve: "",
        note: "",
        kind: "billing",
    },
    Template {
        subject: "Card declined but it works everywhere else",
        body: "My renewal failed with \"card declined\" and now the app says my account will be downgraded in 3 days. The card works everywhere else. What's going on?",
        flow: Flow::AskInfo,
        priority: "normal",
        tags: &["billing", "payment-failed"],
        reply: "Sorry about this. Declines on renewals usually come from the bank's fraud check on recurring payments. Could you re-enter the card under Settings > Billing and tell me the exact error message if it fails again?",
        follow: "I re-entered the card and now it says \"Your bank requires authentication\" and then nothing happens.",
        resolve: "Thanks, that explains it: your bank asks for 3-D Secure and the check was blocked inside the app. I've emailed you a payment link that opens in the browser, where the bank check works, and extended your grace period by 7 days so nothing is downgraded meanwhile.",
        note: "3DS challenge fails inside the iOS webview (known issue ENG-4410). Sent hosted payment link, grace period +7d.",
        kind: "billing",
    },
    Template {
        subject: "Upgrading to the Family plan - will I pay twice?",
        body: "I'd like to move from Plus to Family so my husband and kids get their own space. If I upgrade now, do I pay the full Family price on top of what I already paid this month?",
        flow: Flow::Answer,
        priority: "low",
        tags: &["billing", "upgrade", "family-plan"],
        reply: "Good question! When you upgrade mid-cycle we only charge the difference for the remaining days (about {amount} in your case) and from the next renewal you pay the normal Family price. Your photos and albums stay exactly where they are.",
        follow: "",
        resolve: "",
        note: "",
        kind: "billing",
    },
    Template {
        subject: "Please cancel my subscription",
        body: "Please cancel my subscription, I don't use Lumen anymore.",
        flow: Flow::AskInfo,
        priority: "normal",
        tags: &["billing", "cancellation"],
        reply: "I can help with that. Just to be sure: do you want to cancel only the paid plan (you keep your photos on the Free plan, up to 5 GB), or close the account completely and delete your photos?",
        follow: "Just the paid plan please, I want to keep the photos.",
        resolve: "Done: your subscription is cancelled and won't renew. You keep Plus until the end of the current period, then the account moves to Free. Nothing is deleted; if you're over 5 GB, new uploads pause until you free up space.",
        note: "Offered the 3-months-at-50% retention discount in chat last month, declined. Cancelled as requested.",
        kind: "billing",
    },
];

/// English technical questions (Manila, `tech-en`).
pub static TECH_EN: &[Template] = &[
    Template {
        subject: "Photos stopped syncing from my iPhone",
        body: "Since yesterday my new photos aren't uploading anymore. The app just says \"Waiting to sync\" forever. I'm on an {device} with app version {version}.",
        flow: Flow::AskInfo,
        priority: "normal",
        tags: &["sync", "ios"],
        reply: "Thanks for the details. Could you check two things for me: (1) iPhone Settings > Lumen > Background App Refresh is on, and (2) in the app, Settings > Backup > \"Upload over cellular\". If you're mostly on mobile data, sync waits for Wi-Fi. Let me know what you see.",
        follow: "Background refresh was OFF after the iOS update. Turned it on and it's uploading now, 300 photos to go.",
        resolve: "Great news! iOS updates sometimes reset that switch. The remaining photos will upload in the background. I'm marking this as solved; just reply if it gets stuck again.",
        note: "Third \"waiting to sync\" this week after the iOS update, all with Background App Refresh reset. Suggested a help-center article to the client.",
        kind: "tech",
    },
    Template {
        subject: "App crashes when I open a shared album",
        body: "Every time I tap the album my sister shared with me, the app closes. Other albums open fine. {device}, version {version}.",
        flow: Flow::ThirdParty,
        priority: "high",
        tags: &["crash", "android", "shared-albums"],
        reply: "Thank you for reporting this, and sorry for the hassle. I could reproduce the crash with large shared albums on Android and passed it to our engineering team with your details. Meanwhile the album opens fine in the web app at lumen.example/albums. I'll update you as soon as there is a fix.",
        follow: "Engineering update on {case}: fix ships in app version 4.13.0, rolling out on Google Play today.",
        resolve: "Good news: the fix for the shared-album crash is in version 4.13.0, which is rolling out on Google Play now. Once you update, the album opens normally. Thanks for your patience!",
        note: "Reproduced on Android 14 with a shared album of 2,000+ items. Escalated to engineering as {case}; ticket on hold.",
        kind: "tech",
    },
    Template {
        subject: "Locked out - two-factor codes not accepted",
        body: "I got a new phone and now my authenticator codes don't work. I'm locked out of my account and ALL my photos are in there!",
        flow: Flow::AskInfo,
        priority: "high",
        tags: &["login", "2fa", "security"],
        reply: "I understand how stressful this is; your photos are safe. For security I need to verify that the account is yours before I can reset two-factor authentication. Please reply from this email address with the month and year you created the account (roughly is fine) and the name of one of your albums.",
        follow: "I think I created it around March 2021. One of the albums is called \"Lisbon trip\".",
        resolve: "Thank you, that matches our records. I've reset two-factor authentication: log in with your password and the app will ask you to set up 2FA again on the new phone. Please save the recovery codes this time.",
        note: "Identity verified (creation date + album name match). 2FA reset per runbook SEC-7; second-person check done by {lead}.",
        kind: "tech",
    },
    Template {
        subject: "Storage full even though I deleted lots of photos",
        body: "The app says my 200 GB are full, but I deleted about 3,000 photos yesterday. The meter didn't move at all.",
        flow: Flow::Answer,
        priority: "normal",
        tags: &["storage"],
        reply: "Deleted photos stay in \"Recently deleted\" for 30 days and keep counting towards your storage until then. To free the space right away, open Albums > Recently deleted > Select all > Delete permanently. The meter updates within a few minutes.",
        follow: "",
        resolve: "",
        note: "",
        kind: "tech",
    },
    Template {
        subject: "Full library export stuck at 40%",
        body: "I started a full export (Settings > Export) two days ago and it's still stuck at 40%. I need the files to move to a new computer this weekend.",
        flow: Flow::ThirdParty,
        priority: "normal",
        tags: &["export", "web"],
        reply: "Sorry for the delay. Large exports are prepared on our servers and yours is stuck on our side. I've asked our storage team to restart it, so you don't need to do anything. I'll get back to you as soon as the download link is ready.",
        follow: "Storage team restarted the export job ({case}); it completed and the download link was emailed.",
        resolve: "Your export is ready! You should have an email with the download link (valid for 7 days). It's split into zip files of about 10 GB each.",
        note: "Export job stuck in \"packaging\" state. Opened {case} with the storage team.",
        kind: "tech",
    },
    Template {
        subject: "Face grouping keeps mixing up my kids",
        body: "The People view puts photos of my two sons in the same group. Can I fix that?",
        flow: Flow::Answer,
        priority: "low",
        tags: &["people", "how-to"],
        reply: "Face grouping learns from corrections. Open People, select the group, tap ... > \"Review photos\" and remove the ones that aren't him; after a few corrections the grouping gets much better. From the same menu you can also split a group or merge two groups.",
        follow: "",
        resolve: "",
        note: "",
        kind: "tech",
    },
];

/// Business-plan escalations in English (Kraków, `tech-l2-en`).
pub static TIER2_EN: &[Template] = &[
    Template {
        subject: "API returns 429 Too Many Requests on bulk upload",
        body: "We use the Business API to upload product photos from our DAM. Since this morning about a third of the requests fail with HTTP 429, although we're well below the 600 requests/minute in the docs. Example request ids: req_8f2k1c, req_91abx0.",
        flow: Flow::AskInfo,
        priority: "high",
        tags: &["api", "rate-limit", "business"],
        reply: "Thanks for the request ids. Besides 600 requests per minute per key there is a limit of 50 concurrent uploads per workspace, and our logs show you at up to 120 concurrent uploads at peak. How many workers does your sync job run in parallel?",
        follow: "We run 16 workers with 8 threads each, so yes, up to 128 in parallel. We can bring that down.",
        resolve: "Thanks for confirming. With 6 workers x 8 threads you'll stay under the concurrency limit; on a 429 the Retry-After header tells you how long to wait. If you need more throughput, your account manager can raise the limit for {org}.",
        note: "Gateway logs for the workspace: concurrency peaks at 118-124, rate ~410/min. Not a platform issue.",
        kind: "tech",
    },
    Template {
        subject: "Webhook deliveries failing with TLS handshake error",
        body: "Our endpoint stopped receiving asset.created webhooks on Tuesday. Your dashboard shows the deliveries as failed with \"TLS handshake error\". Nothing changed on our side.",
        flow: Flow::ThirdParty,
        priority: "urgent",
        tags: &["api", "webhooks", "business", "incident"],
        reply: "Thanks for flagging this. We rotated the certificate bundle of the webhook sender and a few endpoints with certain intermediate certificates are affected. Engineering is working on it with priority; failed deliveries are kept and will be retried once it's fixed.",
        follow: "Engineering on {case}: CA bundle fix deployed, retry queue drained for all affected workspaces.",
        resolve: "The fix is deployed and every failed delivery since Tuesday has been replayed to your endpoint, so you should see them in your logs now. Sorry for the disruption, and thanks for the clear report.",
        note: "Matches incident INC-2231 (webhook sender CA bundle). Linked to {case}; on hold until the fix is deployed.",
        kind: "tech",
    },
    Template {
        subject: "SSO login loop with Azure AD",
        body: "After enabling SAML single sign-on for {org}, users are sent back to the login page right after signing in with Microsoft.",
        flow: Flow::AskInfo,
        priority: "high",
        tags: &["sso", "saml", "business"],
        reply: "A login loop almost always means the NameID sent by Azure AD doesn't match the users' email addresses in Lumen. Could you send us a SAML response captured with the SAML-tracer browser extension (you can remove the signature)?",
        follow: "Here's the trace. We see the NameID is the user principal name, which differs from the email for some users.",
        resolve: "That's it: for those users the UPN differs from their email. In Azure AD, under Attributes & Claims, set the Unique User Identifier to user.mail and the loop stops. Nothing needs to change on the Lumen side.",
        note: "NameID = UPN (name@corp.onmicrosoft) instead of email. Asked docs team to add an Azure AD example.",
        kind: "tech",
    },
];

/// Polish general support (Kraków, `general-pl`).
pub static GENERAL_PL: &[Template] = &[
    Template {
        subject: "Podwójne obciążenie karty",
        body: "w wyciągu bankowym widzę dwa obciążenia po {amount} za abonament Lumen z dnia {date}. Proszę o zwrot jednej płatności.",
        flow: Flow::Answer,
        priority: "high",
        tags: &["billing", "refund", "duplicate-charge"],
        reply: "sprawdziliśmy konto: płatność za fakturę {invoice} rzeczywiście została pobrana dwukrotnie {date}. Zwrot {amount} został już zlecony; w zależności od banku środki wrócą w ciągu 5-10 dni roboczych. Przepraszamy za kłopot.",
        follow: "",
        resolve: "",
        note: "Dwa obciążenia w panelu płatności dla {invoice}, zwrot drugiego wykonany. Ten sam błąd ponawiania płatności co w ENG-4398.",
        kind: "billing",
    },
    Template {
        subject: "Zdjęcia nie synchronizują się z telefonu",
        body: "od kilku dni nowe zdjęcia z telefonu nie trafiają do Lumen. Aplikacja pokazuje \"Oczekiwanie na synchronizację\". Telefon: {device}, wersja aplikacji {version}.",
        flow: Flow::AskInfo,
        priority: "normal",
        tags: &["sync", "android"],
        reply: "dziękujemy za zgłoszenie. Prosimy sprawdzić w aplikacji: Ustawienia > Kopia zapasowa > \"Wysyłaj przez sieć komórkową\" oraz czy w ustawieniach baterii telefonu Lumen może działać w tle. Prosimy dać znać, co widać.",
        follow: "Oszczędzanie baterii blokowało aplikację. Po wyłączeniu wszystko się wysyła, dziękuję!",
        resolve: "świetnie, cieszymy się, że działa. Na niektórych telefonach tryb oszczędzania baterii zatrzymuje aplikacje w tle, dlatego warto dodać Lumen do wyjątków. Zamykamy zgłoszenie, ale wystarczy odpisać, gdyby problem wrócił.",
        note: "Tryb oszczędzania baterii (MIUI) - kolejny przypadek w tym tygodniu.",
        kind: "tech",
    },
    Template {
        subject: "Faktura VAT na firmę",
        body: "potrzebuję faktury VAT na firmę za ostatni okres rozliczeniowy (NIP 6762481923). Czy można wystawić fakturę z danymi firmy?",
        flow: Flow::Answer,
        priority: "low",
        tags: &["billing", "invoice"],
        reply: "oczywiście. Dane firmy i NIP można dodać w aplikacji webowej: Ustawienia > Płatności > Dane do faktury. Fakturę {invoice} wystawiliśmy ponownie z danymi firmy; jest już do pobrania w zakładce Faktury.",
        follow: "",
        resolve: "",
        note: "Korekta danych nabywcy na {invoice} zrobiona ręcznie w panelu.",
        kind: "billing",
    },
    Template {
        subject: "Brak dostępu do konta po zmianie telefonu",
        body: "po zmianie telefonu kody z aplikacji uwierzytelniającej nie działają. Nie mam dostępu do konta, a są tam wszystkie zdjęcia z wesela!",
        flow: Flow::AskInfo,
        priority: "high",
        tags: &["login", "2fa", "security"],
        reply: "rozumiemy, jak to ważne - zdjęcia są bezpieczne. Ze względów bezpieczeństwa musimy potwierdzić tożsamość właściciela konta. Prosimy o odpowiedź z tego adresu e-mail z przybliżoną datą założenia konta oraz nazwą jednego albumu.",
        follow: "Konto założone chyba w 2020 roku, jeden z albumów to \"Wesele Ani i Kuby\".",
        resolve: "dziękujemy, dane się zgadzają. Zresetowaliśmy uwierzytelnianie dwuskładnikowe. Po zalogowaniu hasłem aplikacja poprosi o ponowną konfigurację 2FA - prosimy zapisać kody zapasowe.",
        note: "Tożsamość potwierdzona (data + album). Reset 2FA wg SEC-7, druga osoba: {lead}.",
        kind: "tech",
    },
    Template {
        subject: "Jak anulować subskrypcję?",
        body: "chcę zrezygnować z planu Plus. Jak to zrobić?",
        flow: Flow::AskInfo,
        priority: "normal",
        tags: &["billing", "cancellation"],
        reply: "możemy to zrobić za Państwa. Prosimy tylko o potwierdzenie: czy anulować tylko płatny plan (zdjęcia zostają na darmowym koncie do 5 GB), czy całkowicie usunąć konto razem ze zdjęciami?",
        follow: "Tylko płatny plan, zdjęcia chcę zachować.",
        resolve: "gotowe - subskrypcja została anulowana i nie odnowi się. Plan Plus działa do końca bieżącego okresu, potem konto przejdzie na plan darmowy. Żadne zdjęcia nie zostaną usunięte.",
        note: "",
        kind: "billing",
    },
];

/// Spanish billing (Bogotá, `billing-es`).
pub static BILLING_ES: &[Template] = &[
    Template {
        subject: "Cobro doble en mi tarjeta",
        body: "Me aparecen dos cobros de {amount} de Lumen el {date}. Solo tengo una cuenta. ¿Me pueden devolver uno?",
        flow: Flow::Answer,
        priority: "high",
        tags: &["billing", "refund", "duplicate-charge"],
        reply: "Revisé tu cuenta y tienes razón: el pago de la factura {invoice} se cobró dos veces el {date}. Ya hice el reembolso del cobro duplicado de {amount}; según tu banco, lo verás reflejado en 5 a 10 días hábiles. ¡Disculpa las molestias!",
        follow: "",
        resolve: "",
        note: "Confirmados 2 cobros de {invoice} en la consola de pagos; reembolsado el segundo. Mismo bug de reintentos (ENG-4398).",
        kind: "billing",
    },
    Template {
        subject: "Quiero cancelar mi suscripción",
        body: "Por favor cancelen mi suscripción, ya no la uso.",
        flow: Flow::AskInfo,
        priority: "normal",
        tags: &["billing", "cancellation"],
        reply: "Con gusto te ayudo. Solo confirma: ¿quieres cancelar solo el plan de pago (tus fotos se quedan en el plan gratuito, hasta 5 GB) o cerrar la cuenta y borrar tus fotos?",
        follow: "Solo el plan de pago, quiero conservar las fotos.",
        resolve: "Listo: tu suscripción quedó cancelada y no se renovará. Conservas el plan Plus hasta el final del período actual y luego la cuenta pasa al plan gratuito. No se borra ninguna foto.",
        note: "",
        kind: "billing",
    },
    Template {
        subject: "Me cobraron después de cancelar",
        body: "Cancelé mi plan el mes pasado pero igual me cobraron {amount} este mes. Necesito que me devuelvan el dinero.",
        flow: Flow::AskInfo,
        priority: "high",
        tags: &["billing", "refund", "app-store"],
        reply: "Lamento la confusión. No encuentro ninguna cancelación registrada con este correo. ¿Es posible que hayas contratado la suscripción desde el iPhone o con otro correo? Si tienes el correo de confirmación de la cancelación, por favor reenvíamelo.",
        follow: "Ahh, la contraté desde el iPhone. Ahí aparece que sigue activa.",
        resolve: "Eso lo explica: las suscripciones compradas en el iPhone las gestiona Apple, así que solo se pueden cancelar en Ajustes > tu nombre > Suscripciones, y el reembolso de este mes se pide en reportaproblem.apple.com. Te dejé los pasos en lumen.example/ayuda/apple.",
        note: "Suscripción vía App Store: no podemos reembolsar desde nuestra consola. Enviado el procedimiento de Apple.",
        kind: "billing",
    },
    Template {
        subject: "Factura a nombre de mi empresa",
        body: "Necesito que la factura salga a nombre de mi empresa con el NIT 900.482.117-3. ¿Cómo la cambio?",
        flow: Flow::Answer,
        priority: "low",
        tags: &["billing", "invoice"],
        reply: "Puedes agregar los datos de tu empresa en la web: Configuración > Facturación > Datos de facturación. Ya volví a generar la factura {invoice} con el NIT de tu empresa; la puedes descargar en la sección Facturas.",
        follow: "",
        resolve: "",
        note: "",
        kind: "billing",
    },
];

/// Spanish general support (Bogotá, `general-es`).
pub static GENERAL_ES: &[Template] = &[
    Template {
        subject: "Las fotos no se sincronizan",
        body: "Desde ayer las fotos nuevas no se suben. La app dice \"Esperando para sincronizar\". Tengo un {device}, versión {version}.",
        flow: Flow::AskInfo,
        priority: "normal",
        tags: &["sync", "android"],
        reply: "Gracias por los detalles. ¿Puedes revisar dos cosas? (1) Que la app tenga permitido funcionar en segundo plano y (2) en la app, Ajustes > Copia de seguridad > \"Subir con datos móviles\": si usas sobre todo datos móviles, la sincronización espera al Wi-Fi. Cuéntame qué ves.",
        follow: "Estaba desactivado lo de segundo plano. Ya lo activé y están subiendo.",
        resolve: "¡Excelente! Las fotos que faltan se subirán en segundo plano. Marco el caso como resuelto, pero si se vuelve a detener solo responde a este correo.",
        note: "Otro caso de actualización del sistema que desactiva el segundo plano.",
        kind: "tech",
    },
    Template {
        subject: "La app se cierra al abrir un álbum compartido",
        body: "Cada vez que abro el álbum que me compartió mi hermano la app se cierra. Los demás álbumes abren bien. {device}, versión {version}.",
        flow: Flow::ThirdParty,
        priority: "high",
        tags: &["crash", "android", "shared-albums"],
        reply: "Gracias por avisarnos y disculpa el inconveniente. Pudimos reproducir el cierre con álbumes compartidos grandes en Android y ya lo pasamos al equipo de ingeniería. Mientras tanto, el álbum abre bien desde la web en lumen.example/albums. Te aviso apenas haya una solución.",
        follow: "Ingeniería ({case}): corrección incluida en la versión 4.13.0, ya en despliegue en Google Play.",
        resolve: "¡Buenas noticias! La corrección está en la versión 4.13.0, que ya está disponible en Google Play. Al actualizar, el álbum debería abrir sin problemas. Gracias por tu paciencia.",
        note: "Reproducido en Android 14 con álbumes de más de 2.000 fotos. Escalado a ingeniería como {case}; en espera.",
        kind: "tech",
    },
    Template {
        subject: "¿Cómo comparto un álbum con mi familia?",
        body: "Quiero que mis papás vean las fotos del viaje sin tener que mandarles todo por WhatsApp. ¿Cómo hago?",
        flow: Flow::Answer,
        priority: "low",
        tags: &["how-to", "shared-albums"],
        reply: "Abre el álbum, toca Compartir > Invitar personas y escribe los correos de tus papás. Les llega una invitación y pueden ver (y, si lo permites, agregar) fotos. Con el plan Familia también puedes agregarlos como miembros en Configuración > Familia.",
        follow: "",
        resolve: "",
        note: "",
        kind: "tech",
    },
    Template {
        subject: "No puedo iniciar sesión",
        body: "Cambié de celular y los códigos de verificación no funcionan. No puedo entrar a mi cuenta y ahí tengo todas mis fotos.",
        flow: Flow::AskInfo,
        priority: "high",
        tags: &["login", "2fa", "security"],
        reply: "Entiendo la preocupación; tus fotos están seguras. Por seguridad necesito confirmar que la cuenta es tuya antes de restablecer la verificación en dos pasos. Responde desde este correo con el mes y año aproximados en que creaste la cuenta y el nombre de uno de tus álbumes.",
        follow: "La creé como en 2022 y tengo un álbum que se llama \"Cartagena 2023\".",
        resolve: "Gracias, los datos coinciden. Ya restablecí la verificación en dos pasos: inicia sesión con tu contraseña y la app te pedirá configurarla de nuevo en el celular nuevo. Guarda los códigos de recuperación.",
        note: "Identidad verificada (fecha + álbum). Reset 2FA según SEC-7, segunda revisión: {lead}.",
        kind: "tech",
    },
];

/// Tickets no routing rule matched: they wait, unrouted, for a manager.
pub static UNROUTED: &[(&str, &str)] = &[
    (
        "Where is my data stored? (GDPR question)",
        "Hi,\n\nbefore we move our studio's archive to Lumen Business I need to know in which countries the photos are stored and whether you sign a data processing agreement.\n\nThanks,\n{first}",
    ),
    (
        "Partnership inquiry - wedding photographers association",
        "Hello,\n\nI represent an association of 400 wedding photographers. We'd like to discuss a group discount for Lumen Business. Who is the right person to talk to?\n\nBest,\n{first}",
    ),
    (
        "App shows the wrong language",
        "Hi,\n\nsince the last update the app is in German although my phone is set to English. I can't find a setting to change it.\n\n{first}",
    ),
];
