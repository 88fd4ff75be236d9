/**
 * PII detection by key: which attribute / property keys carry personal data by their name alone.
 *
 * Patterns are case-insensitive globs matched against the whole key: `*` matches any run of
 * characters (dots included), `?` exactly one character, everything else is literal. A substring
 * rule is written `*word*`; a pattern without wildcards matches exactly that key.
 *
 * Verdicts:
 * - `blocked`: the key names personal data; the caller applies its key action (drop, mask, ...).
 * - `allowed`: listed in the allow list, which always wins over the block list. It only exempts the
 *   key from key rules; value detectors (e-mail, IP, card, ...) still apply to its values, which is
 *   how `client.address` gets its IP truncated rather than being dropped.
 * - `neutral`: neither; value detectors apply.
 *
 * In allow-list-only mode (fail closed) every key that is not allowed is `blocked`.
 */

/** What {@link compileKeyMatcher} says about one key. */
export type KeyVerdict = 'blocked' | 'allowed' | 'neutral';
/** A compiled key matcher; memoised, so calling it for the same key again costs one map lookup. */
export type KeyMatcher = (key: string) => KeyVerdict;

/** `block_list`: blocked unless allowed; `allow_list_only`: only allowed keys survive (fails closed). */
export type KeyMatchMode = 'block_list' | 'allow_list_only';

/** Default bound of the per-key memo (distinct keys). */
export const DEFAULT_KEY_CACHE_SIZE = 4096;

/**
 * Key patterns that name personal data or secrets. Each line says why it is there.
 * Identity fields (`user.id`, `enduser.id`, `session.id`, ...) are not listed: they are
 * pseudonymised rather than removed, by the processor's identity configuration.
 */
export const DEFAULT_BLOCKED_KEYS: readonly string[] = Object.freeze([
  // Contact data. Not *mail*: mail.template, mail.provider, mailbox_count name no address (an
  // address under them is still masked by the email detector).
  '*email*', //            user.email, email_address, customer_email, emailAddress
  '*e_mail*',
  '*e-mail*',
  'mail', //               the key alone, or a segment that is the address
  '*.mail',
  '*_mail', //             contact_mail
  '*-mail',
  'mail.address',
  'mail_address',
  '*mailaddress*',
  '*.mail.address',
  '*_mail_address',
  '*mail.to', //           recipients and senders of a message
  '*mail.from',
  '*mail.cc',
  '*mail.bcc',
  '*mail*recipient*',
  '*mail*sender*',
  '*mailto*',
  '*courriel*', //         French
  '*correo*', //           Spanish
  '*phone*', //            phone numbers: user.phone, phone_number, telephone, mobile_phone
  '*mobile*number*', //    mobile_number, mobileNumber
  '*msisdn*', //           subscriber numbers (mobile networks)
  '*telefon*', //          German, Danish, Swedish ...: telefon, telefonnummer, kunde.telefon
  '*teléfono*', //         Spanish (telefono is in *telefon*)
  '*handynummer*', //      German mobile number
  '*mobilnummer*',
  // Postal address and precise location (GDPR Art. 4(1): location data identifies a person).
  '*address*', //          home/billing/shipping address; the IP-valued semconv keys are allowed below
  '*street*', //           street, street_address
  '*postal*code*', //      postal_code
  '*postcode*', //         postcode
  '*zip*code*', //         zip_code, zipcode
  '*adres*', //            German/French Adresse, Dutch adres (English address is above)
  '*anschrift*', //        German: postal address
  '*strasse*', //          German: street (both spellings)
  '*straße*',
  '*hausnummer*', //       German: house number
  '*wohnort*', //          German: place of residence
  '*postleitzahl*', //     German: postal code
  'plz', //                German postal code; not *plz* (the letters occur inside other words)
  '*.plz',
  '*_plz',
  '*-plz',
  'plz_*',
  '*direccion*', //        Spanish dirección
  '*dirección*',
  '*indirizzo*', //        Italian
  '*latitude*', //         geo coordinates
  '*longitude*',
  // Names of people. Many non-personal keys contain "name" too (service.name, product.name);
  // they are in DEFAULT_ALLOWED_KEYS.
  '*name*', //             user.name, username, first_name, last_name, full_name, customer_name, name,
  //                       German vorname, nachname, familienname, geburtsname
  '*voornaam*', //         Dutch first and last names
  '*achternaam*',
  '*prenom*', //           French prénom
  '*prénom*',
  '*apellido*', //         Spanish surname
  '*cognome*', //          Italian surname
  // Customer records named in German: kunde.email, kunde.geburtsdatum, kunde_name.
  'kunde',
  'kunde.*',
  'kunde_*',
  'kunden.*',
  '*kundennummer*', //     customer number
  // Payment data (PCI DSS: PAN, CVV must not be stored).
  '*card*', //             card_number, payment.card.number, cardholder, credit_card
  '*cvv*', //              card verification value
  '*cvc*', //              card verification code
  '*security*code*', //    card security code
  '*iban*', //             bank account numbers (ISO 13616)
  '*bank*account*', //     bank_account, bank_account_number
  '*account*number*', //   account_number
  '*kontonummer*', //      German: account number
  '*bankverbindung*', //   German: bank details
  // Credentials and secrets.
  '*password*', //         password, user.password
  '*passwd*',
  '*passwort*', //         German
  '*kennwort*', //         German
  '*passphrase*',
  '*pwd*',
  '*secret*', //           client_secret, secret_key
  '*token*', //            access_token, refresh_token, id_token, csrf_token
  '*api*key*', //          api_key, x-api-key, apiKey
  '*access*key*', //       aws access keys
  '*private*key*',
  '*credential*', //       credentials
  '*authorization*', //    http.request.header.authorization (RFC 9110 §11.6.2)
  '*cookie*', //           http.request.header.cookie, set-cookie: session cookies identify a person
  '*csrf*',
  '*xsrf*',
  // Official identifiers and sensitive dates.
  '*birth*', //            date_of_birth, birthdate, birthday
  '*geburt*', //           German: geburtsdatum, geburtstag, geburtsort, geburtsname
  '*geboorte*', //         Dutch: geboortedatum
  '*naissance*', //        French: date_de_naissance
  '*nacimiento*', //       Spanish: fecha_de_nacimiento
  '*nascita*', //          Italian: data_di_nascita
  'dob',
  '*.dob',
  '*_dob',
  'ssn', //                US social security number (not *ssn*: that would hit "classname")
  '*.ssn',
  '*_ssn',
  '*social*security*',
  '*passport*',
  '*reisepass*', //        German: passport
  '*ausweis*', //          German: personalausweis, ausweisnummer (identity card)
  '*steuer*id*', //        German: steuer_id, steueridentifikationsnummer
  '*steuernummer*',
  '*sozialversicherung*', // German: social insurance number
  '*versichertennummer*', // German: health insurance member number
  '*national*id*',
  '*tax?id', //            tax_id, customer.tax-id (not *tax?id*: that would hit "syntax_identifier")
  '*taxid*',
  '*tax?id?number*',
  '*tax?identification*',
  '*driver*licen?e*', //   driver_license, drivers_licence
]);

/**
 * Keys that would match {@link DEFAULT_BLOCKED_KEYS} but carry no personal data. The allow list
 * wins over the block list. Each line says why it is there.
 */
export const DEFAULT_ALLOWED_KEYS: readonly string[] = Object.freeze([
  // OpenTelemetry semantic conventions: network addresses. Their values are IPs or host names, and
  // go to the value detectors instead (IPs are truncated or dropped there).
  'client.address',
  'server.address',
  'source.address',
  'destination.address',
  'network.*.address', //   network.peer.address, network.local.address
  'net.*.name', //          deprecated net.peer.name / net.host.name: host names
  'network.*.name', //      network.protocol.name, network.carrier.name
  // Semantic conventions: names of software, not of people.
  'service.name',
  '*namespace*', //         service.namespace, k8s.namespace.name, code.namespace, db.namespace
  'event.name',
  'event_name',
  'span.name',
  'metric.name',
  'telemetry.sdk.name',
  'telemetry.distro.name',
  'otel.scope.name',
  'otel.library.name',
  'feature_flag.*name', //  feature_flag.provider.name, feature_flag.provider_name
  'deployment.environment.name',
  'deployment.name',
  'host.name',
  'host.image.name',
  '*hostname*',
  'os.name',
  'browser.name',
  'user_agent.name', //     the browser's name, not the user's
  'device.model.name',
  'container.name',
  'container.image.name',
  'k8s.*.name',
  'process.executable.name',
  'process.runtime.name',
  'faas.name',
  'webengine.name',
  'cloud.*name*',
  'db.name',
  'db.*.name', //           db.collection.name, db.operation.name, db.system.name
  'messaging.*.name', //    messaging.destination.name, messaging.consumer.group.name
  'code.function.name',
  '*classname*', //         code.classname (deprecated semconv): a class, not a person
  'code.file.name',
  'log.file.name',
  'thread.name',
  'logger.name',
  '*pathname*', //          url pathname
  // Commerce / analytics properties (GA4 item and promotion parameters): catalogue names.
  '*product*name*', //      product.name, product_name
  '*item*name*', //         item_name, item.name
  '*list*name*', //         item_list_name
  '*brand*name*',
  '*category*name*',
  '*promotion*name*',
  '*creative*name*',
  '*campaign*name*',
  '*page*name*',
  '*screen*name*', //       app screen names (GA4 screen_name)
  '*step*name*', //         checkout step names
  '*experiment*name*',
  '*variant*name*',
  '*flag*name*',
  '*plan*name*',
  // Keys about mail that name no address: templates, campaigns, counts, flags.
  '*mail*template*',
  '*mail*campaign*',
  '*mail*type',
  '*mail*verified',
  '*mail*count',
  // Keys that only contain a blocked word by accident.
  '*cardinality*',
  '*discard*',
  '*wildcard*',
  // Generative-AI token counts (gen_ai.usage.input_tokens) are integers, not credentials.
  'gen_ai.usage.*',
  'gen_ai.token.type',
  '*token*count*',
]);

export interface KeyMatcherOptions {
  /** Patterns of keys that carry personal data. Ignored in `allow_list_only` mode. Default: none. */
  blocked?: readonly string[];
  /** Patterns of keys that never count as blocked (wins over `blocked`). Default: none. */
  allowed?: readonly string[];
  /** Default `block_list`. */
  mode?: KeyMatchMode;
  /** Bound of the per-key memo in distinct keys; 0 disables it. Default {@link DEFAULT_KEY_CACHE_SIZE}. */
  cacheSize?: number;
}

const REGEX_SPECIALS = /[\\^$.|+(){}[\]]/g;

/**
 * Source of an anchored regular expression for one glob pattern (`*` any run, `?` one character).
 * @throws Error when the pattern is not a non-empty string.
 */
export function globToRegExpSource(pattern: string): string {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new Error(`privacy: key pattern must be a non-empty string, got ${JSON.stringify(pattern)}`);
  }
  return pattern.replace(REGEX_SPECIALS, '\\$&').replace(/\*+/g, '.*').replace(/\?/g, '.');
}

function compileList(patterns: readonly string[] | undefined, what: string): RegExp | null {
  if (patterns === undefined) return null;
  if (!Array.isArray(patterns)) throw new Error(`privacy: ${what} must be a list of key patterns`);
  if (patterns.length === 0) return null;
  const parts = patterns.map((p, i) => {
    try {
      return globToRegExpSource(p);
    } catch (err) {
      throw new Error(`privacy: ${what}[${i}]: ${(err as Error).message.replace(/^privacy: /, '')}`);
    }
  });
  // `s`: a key containing a newline is still matched by `*`.
  return new RegExp(`^(?:${parts.join('|')})$`, 'is');
}

/**
 * Compiles block and allow patterns into one memoised matcher.
 *
 * @returns `(key) => 'blocked' | 'allowed' | 'neutral'`; in `allow_list_only` mode the result is
 *   never `neutral` (unlisted keys are `blocked`, so nothing slips through unreviewed).
 * @throws Error naming the offending list and index when a pattern is empty or not a string, or
 *   when `mode`/`cacheSize` is invalid.
 */
export function compileKeyMatcher(opts: KeyMatcherOptions): KeyMatcher {
  const mode = opts.mode ?? 'block_list';
  if (mode !== 'block_list' && mode !== 'allow_list_only') {
    throw new Error(`privacy: key match mode must be "block_list" or "allow_list_only", got ${JSON.stringify(mode)}`);
  }
  const cacheSize = opts.cacheSize ?? DEFAULT_KEY_CACHE_SIZE;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new Error(`privacy: key cache size must be a non-negative integer, got ${String(cacheSize)}`);
  }
  const allowed = compileList(opts.allowed, 'allowed_keys');
  const blocked = mode === 'block_list' ? compileList(opts.blocked, 'blocked_keys') : null;
  const fallback: KeyVerdict = mode === 'allow_list_only' ? 'blocked' : 'neutral';

  const decide = (key: string): KeyVerdict => {
    if (allowed !== null && allowed.test(key)) return 'allowed';
    if (blocked !== null && blocked.test(key)) return 'blocked';
    return fallback;
  };
  if (cacheSize === 0) return decide;

  const memo = new Map<string, KeyVerdict>();
  return (key: string): KeyVerdict => {
    let v = memo.get(key);
    if (v === undefined) {
      v = decide(key);
      if (memo.size >= cacheSize) {
        // Evict the oldest entry (insertion order); keys repeat, so the hot ones come back quickly.
        const oldest = memo.keys().next();
        if (oldest.done !== true) memo.delete(oldest.value);
      }
      memo.set(key, v);
    }
    return v;
  };
}

/**
 * Allow-list-only matcher (fails closed): keys matching `allowed` are `allowed`, every other key is
 * `blocked`. An empty list blocks every key.
 * @throws Error as {@link compileKeyMatcher}.
 */
export function compileAllowListOnlyMatcher(allowed: readonly string[], cacheSize?: number): KeyMatcher {
  return compileKeyMatcher(cacheSize === undefined ? { allowed, mode: 'allow_list_only' } : { allowed, mode: 'allow_list_only', cacheSize });
}

/** The default matcher: {@link DEFAULT_BLOCKED_KEYS} with {@link DEFAULT_ALLOWED_KEYS} winning. */
export function compileDefaultKeyMatcher(): KeyMatcher {
  return compileKeyMatcher({ blocked: DEFAULT_BLOCKED_KEYS, allowed: DEFAULT_ALLOWED_KEYS });
}
