'use strict';
/*
 * Fingerprint of everything Node does with ICU data, as JSON on stdout. Dockerfile.distroless
 * runs it with the system's full ICU data and again in the trimmed root file system: the two
 * outputs must be identical, so trimming the data cannot change what a function sees.
 *
 *   node intl-check.js [LOCALES]     LOCALES: comma-separated, default a broad set (with a
 *                                    list, the locale-independent checks are still made)
 *   node intl-check.js --encodings   the WHATWG encodings TextDecoder supports, one a line
 */
const { transcode } = require('buffer');
const { createHash } = require('crypto');
const url = require('url');

// Every encoding of the WHATWG Encoding Standard (what TextDecoder accepts), plus labels.
const ENCODINGS = [
  'utf-8', 'ibm866', 'iso-8859-2', 'iso-8859-3', 'iso-8859-4', 'iso-8859-5', 'iso-8859-6',
  'iso-8859-7', 'iso-8859-8', 'iso-8859-8-i', 'iso-8859-10', 'iso-8859-13', 'iso-8859-14',
  'iso-8859-15', 'iso-8859-16', 'koi8-r', 'koi8-u', 'macintosh', 'windows-874',
  'windows-1250', 'windows-1251', 'windows-1252', 'windows-1253', 'windows-1254',
  'windows-1255', 'windows-1256', 'windows-1257', 'windows-1258', 'x-mac-cyrillic', 'gbk',
  'gb18030', 'big5', 'euc-jp', 'iso-2022-jp', 'shift_jis', 'euc-kr', 'replacement',
  'utf-16be', 'utf-16le', 'x-user-defined', 'latin1', 'ascii', 'sjis', 'cp1252', 'ms932',
];

function decoder(name) {
  try {
    return new TextDecoder(name);
  } catch {
    return null;
  }
}

if (process.argv[2] === '--encodings') {
  const names = new Set(ENCODINGS.map(decoder).filter(Boolean).map((d) => d.encoding));
  process.stdout.write([...names].join('\n') + '\n');
  process.exit(0);
}

const sha = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);
const attempt = (fn) => {
  try {
    return fn();
  } catch (err) {
    return `${err.name}: ${err.message}`;
  }
};

// Single bytes, then double-byte and escape sequences of the CJK encodings.
const BYTES = Buffer.concat([
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  Buffer.from([0x82, 0xa0, 0x88, 0x9f, 0xa4, 0xa2, 0xb0, 0xa1, 0x8e, 0xa1, 0x8f, 0xa2, 0xaf,
    0x81, 0x30, 0x81, 0x30, 0xc8, 0xa1, 0x1b, 0x24, 0x42, 0x30, 0x21, 0x1b, 0x28, 0x42, 0x41]),
]);
const TEXT = 'Hello, world. 我是中国人。สวัสดีครับ ຂອບໃຈ ខ្ញុំ ကျေးဇူး 日本語の文章です';
const DATE = new Date(Date.UTC(2024, 1, 29, 13, 5, 9));

const result = {
  icu: process.versions.icu,
  unicode: process.versions.unicode,
  tz: process.versions.tz,
  encodings: Object.fromEntries(ENCODINGS.map((name) => {
    const d = decoder(name);
    return [name, d ? `${d.encoding} ${sha(attempt(() => d.decode(BYTES)))}` : 'unsupported'];
  })),
  transcode: ['ascii', 'latin1', 'ucs2', 'utf8'].map((to) =>
    attempt(() => transcode(Buffer.from('héllo € ☃'), 'utf8', to).toString('hex'))),
  normalize: ['ﬁ', 'Å', 'ｶﾞ', '①', 'ẛ̣'].map((s) =>
    ['NFC', 'NFD', 'NFKC', 'NFKD'].map((form) => s.normalize(form))),
  domains: ['münchen.de', 'xn--mnchen-3ya.de', 'Bücher.example', '例え.テスト'].map((d) =>
    [url.domainToASCII(d), url.domainToUnicode(d)]),
  segments: ['word', 'sentence', 'grapheme'].map((granularity) =>
    Array.from(new Intl.Segmenter('und', { granularity }).segment(TEXT), (s) => s.segment)),
  // The collation types are the union over all locales: only comparable with all locales.
  values: ['calendar', process.argv[2] ? '' : 'collation', 'currency', 'numberingSystem',
    'timeZone', 'unit'].filter(Boolean).map((key) => sha(Intl.supportedValuesOf(key).join())),
  timeZones: ['Asia/Kolkata', 'America/St_Johns', 'Europe/Dublin', 'Pacific/Chatham'].map(
    (timeZone) => new Intl.DateTimeFormat('en', { timeZone, timeStyle: 'full' }).format(DATE)),
  locales: {},
};

const locales = (process.argv[2] ||
  'en,en-GB,en-IN,de,fr,es-MX,pt-BR,it,nl,sv,fi,pl,ru,uk,tr,el,ar,he,fa,hi,th,ja,ko,zh,zh-Hant,' +
  'ja-JP-u-ca-japanese,he-IL-u-ca-hebrew,ar-SA-u-ca-islamic-umalqura,th-TH-u-nu-thai,' +
  'de-u-co-phonebk,zh-u-co-stroke').split(',');
for (const locale of locales) {
  result.locales[locale] = attempt(() => ({
    supported: Intl.DateTimeFormat.supportedLocalesOf([locale]),
    date: new Intl.DateTimeFormat(locale, {
      dateStyle: 'full', timeStyle: 'long', timeZone: 'America/New_York',
    }).format(DATE),
    era: new Intl.DateTimeFormat(locale, { era: 'long', year: 'numeric', timeZone: 'UTC' })
      .format(DATE),
    zoneName: new Intl.DateTimeFormat(locale, { timeZone: 'Asia/Tokyo', timeZoneName: 'long' })
      .format(DATE),
    currency: new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' })
      .format(1234567.891),
    compact: new Intl.NumberFormat(locale, { notation: 'compact' }).format(1234567),
    unit: new Intl.NumberFormat(locale, {
      style: 'unit', unit: 'kilometer-per-hour', unitDisplay: 'long',
    }).format(50),
    plural: [0, 1, 2, 5, 21].map((n) => new Intl.PluralRules(locale).select(n)),
    ordinal: [1, 2, 3, 4].map((n) => new Intl.PluralRules(locale, { type: 'ordinal' }).select(n)),
    relative: new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(-1, 'day'),
    list: new Intl.ListFormat(locale, { type: 'disjunction' }).format(['a', 'b', 'c']),
    names: [['language', 'de'], ['region', 'JP'], ['currency', 'JPY'], ['script', 'Cyrl'],
      ['calendar', 'hebrew'], ['dateTimeField', 'weekday']].map(([type, code]) =>
      new Intl.DisplayNames(locale, { type }).of(code)),
    sort: ['ä', 'a', 'z', 'ö', 'o', 'ch', 'c', 'h', 'ı', 'i', 'Ω', '中', '日', 'ß', 'ss']
      .sort(new Intl.Collator(locale).compare),
    case: ['istanbul', 'İSTANBUL'].map((s) => [s.toLocaleUpperCase(locale), s.toLocaleLowerCase(locale)]),
    words: Array.from(new Intl.Segmenter(locale, { granularity: 'word' }).segment(TEXT),
      (s) => s.segment).length,
    toLocale: [(1234.5).toLocaleString(locale), DATE.toLocaleString(locale, { timeZone: 'UTC' })],
  }));
}

process.stdout.write(JSON.stringify(result, null, 1) + '\n');
