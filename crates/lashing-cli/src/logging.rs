//! runc-compatible logging: `tracing` events written as logrus lines, one per event.
//!
//! - json: `{"level":"error","msg":"...","time":"2026-11-29T06:00:00Z"}` (keys sorted, as
//!   logrus' JSON formatter writes them; event fields are added as keys);
//! - text: `time="2026-11-29T06:00:00Z" level=error msg="..." key=value` (logrus' text
//!   formatter without a terminal: values quoted as Go's `%q` when they need it).
//!
//! containerd and other engines read these lines from the `--log` file to report errors.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::error::CliError;

/// The `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// logrus text lines.
    Text,
    /// logrus JSON lines.
    Json,
}

/// A `tracing` layer writing logrus lines.
struct LogrusLayer {
    format: LogFormat,
    max: Level,
    out: Mutex<Box<dyn Write + Send>>,
}

/// Collects an event's message and fields.
#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

impl<S: Subscriber> Layer<S> for LogrusLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        *metadata.level() <= self.max
    }

    /// The level asked for is the subscriber's hint, so `LevelFilter::current()` is `INFO`
    /// without `--debug`: the library tells a container's init the level to forward from it,
    /// and without the hint (`TRACE`) init sent every debug event only for this layer to drop.
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max))
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() > self.max {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let line = format_line(
            self.format,
            *event.metadata().level(),
            // logrus' default timestamp: whole seconds.
            &lashing::time::now_rfc3339(),
            &f.message,
            &f.fields,
        );
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }
}

/// Installs the global subscriber: lines go to `file` (created if needed, appended to) or to
/// stderr; `debug` enables debug events (otherwise info and above).
pub fn init(format: LogFormat, file: Option<&Path>, debug: bool) -> Result<(), CliError> {
    let out: Box<dyn Write + Send> = match file {
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| CliError::io("open log file", p, e))?;
            Box::new(f)
        }
        None => Box::new(std::io::stderr()),
    };
    let layer = LogrusLayer {
        format,
        max: if debug { Level::DEBUG } else { Level::INFO },
        out: Mutex::new(out),
    };
    // A second installation (unit tests) is harmless: the first one stays.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    Ok(())
}

/// logrus' name of a level.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// One log line (with its newline) in `format`.
pub fn format_line(
    format: LogFormat,
    level: Level,
    time: &str,
    msg: &str,
    fields: &[(String, String)],
) -> String {
    match format {
        LogFormat::Json => {
            let mut m = serde_json::Map::new();
            for (k, v) in fields {
                m.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
            m.insert("level".into(), level_name(level).into());
            m.insert("msg".into(), msg.into());
            m.insert("time".into(), time.into());
            let mut s = serde_json::Value::Object(m).to_string();
            s.push('\n');
            s
        }
        LogFormat::Text => {
            let mut s = String::new();
            let _ = write!(
                s,
                "time={} level={} msg={}",
                text_value(time),
                level_name(level),
                text_value(msg)
            );
            let mut sorted: Vec<&(String, String)> = fields.iter().collect();
            sorted.sort();
            for (k, v) in sorted {
                let _ = write!(s, " {k}={}", text_value(v));
            }
            s.push('\n');
            s
        }
    }
}

/// A value as logrus' text formatter writes it: bare if it only has `[A-Za-z0-9-._/@^+]`,
/// otherwise quoted and escaped like Go's `%q`.
fn text_value(v: &str) -> String {
    let bare = !v.is_empty()
        && v.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | '@' | '^' | '+')
        });
    if bare {
        return v.to_string();
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\x07' => s.push_str("\\a"),
            '\x08' => s.push_str("\\b"),
            '\x0c' => s.push_str("\\f"),
            '\x0b' => s.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(s, "\\x{:02x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_is_logrus_shaped() {
        let l = format_line(
            LogFormat::Json,
            Level::ERROR,
            "2026-11-29T06:00:00Z",
            "container does not exist",
            &[],
        );
        assert_eq!(
            l,
            "{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"2026-11-29T06:00:00Z\"}\n"
        );
        let l = format_line(
            LogFormat::Json,
            Level::WARN,
            "t",
            "m",
            &[("pid".into(), "5".into())],
        );
        assert_eq!(
            l,
            "{\"level\":\"warning\",\"msg\":\"m\",\"pid\":\"5\",\"time\":\"t\"}\n"
        );
    }

    #[test]
    fn text_line_is_logrus_shaped() {
        let l = format_line(
            LogFormat::Text,
            Level::ERROR,
            "2026-11-29T06:00:00Z",
            "container does not exist",
            &[],
        );
        assert_eq!(
            l,
            "time=\"2026-11-29T06:00:00Z\" level=error msg=\"container does not exist\"\n"
        );
        let fields = [
            ("z".to_string(), "a b".to_string()),
            ("id".to_string(), "c1".to_string()),
        ];
        let l = format_line(LogFormat::Text, Level::DEBUG, "t", "ok", &fields);
        assert_eq!(l, "time=t level=debug msg=ok id=c1 z=\"a b\"\n");
    }

    /// The subscriber's hint is the level asked for (what init is told to forward), and events
    /// above it are neither enabled nor written.
    #[test]
    fn the_level_is_hinted() {
        for (max, hint) in [
            (Level::INFO, LevelFilter::INFO),
            (Level::DEBUG, LevelFilter::DEBUG),
        ] {
            let written = std::sync::Arc::new(Mutex::new(Vec::new()));
            let layer = LogrusLayer {
                format: LogFormat::Text,
                max,
                out: Mutex::new(Box::new(Shared(written.clone()))),
            };
            let subscriber = tracing_subscriber::registry().with(layer);
            assert_eq!(subscriber.max_level_hint(), Some(hint));
            tracing::subscriber::with_default(subscriber, || {
                assert_eq!(LevelFilter::current(), hint);
                tracing::debug!("a debug line");
                tracing::info!("an info line");
            });
            let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
            assert!(text.contains("msg=\"an info line\""), "{text}");
            assert_eq!(text.contains("a debug line"), max == Level::DEBUG, "{text}");
        }
    }

    /// A writer into a buffer the test keeps.
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn text_values_are_quoted_like_go() {
        assert_eq!(text_value(""), "\"\"");
        assert_eq!(text_value("a/b-c.d_e@f^g+h"), "a/b-c.d_e@f^g+h");
        assert_eq!(text_value("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(text_value("\x01é"), "\"\\x01é\"");
    }
}
