//! The latency monitor (LATENCY LATEST | HISTORY | RESET | GRAPH | DOCTOR): with
//! `latency-monitor-threshold` above 0, every command that takes at least that many
//! milliseconds is a sample of the `command` event (`fast-command` for O(1) commands), as in
//! Redis. Each event keeps Redis's 160 newest samples, one per second (the highest wins).

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// Redis's LATENCY_TS_LEN.
pub const SAMPLES_MAX: usize = 160;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Unix time, seconds.
    pub time: u64,
    pub ms: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Event {
    /// Oldest first.
    pub samples: Vec<Sample>,
    pub max: u64,
}

#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<&'static str, Event>>,
}

impl LatencyMonitor {
    pub fn record(&self, event: &'static str, time: u64, ms: u64) {
        let mut g = self.events.lock();
        let e = g.entry(event).or_default();
        e.max = e.max.max(ms);
        match e.samples.last_mut() {
            Some(last) if last.time == time => last.ms = last.ms.max(ms),
            _ => {
                if e.samples.len() == SAMPLES_MAX {
                    e.samples.remove(0);
                }
                e.samples.push(Sample { time, ms });
            }
        }
    }

    /// Every event with samples, by name.
    pub fn events(&self) -> Vec<(&'static str, Event)> {
        self.events
            .lock()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    pub fn event(&self, name: &[u8]) -> Option<Event> {
        let g = self.events.lock();
        g.iter()
            .find(|(k, _)| k.as_bytes() == name)
            .map(|(_, v)| v.clone())
    }

    /// Reset the named events (all when `names` is empty); how many were reset.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut g = self.events.lock();
        if names.is_empty() {
            let n = g.len();
            g.clear();
            return n;
        }
        let before = g.len();
        g.retain(|k, _| !names.contains(&k.as_bytes()));
        before - g.len()
    }
}

/// LATENCY GRAPH's chart, drawn as Redis's sparkline: one column per sample (oldest left),
/// `#` up to its height of the chart's 4 rows, `_` for a sample too small to reach a row, a
/// scale line under it saying how old each sample is.
pub fn graph(name: &str, e: &Event, now: u64) -> String {
    let min = e.samples.iter().map(|s| s.ms).min().unwrap_or(0);
    let max = e.samples.iter().map(|s| s.ms).max().unwrap_or(0);
    let mut out = format!(
        "{name} - high {max} ms, low {min} ms (all time high {} ms)\n",
        e.max
    );
    out.push_str(&"-".repeat(80));
    out.push('\n');
    const ROWS: u64 = 4;
    for row in (1..=ROWS).rev() {
        let line: String = e
            .samples
            .iter()
            .map(|s| {
                let h = if max == min {
                    ROWS
                } else {
                    1 + (s.ms - min) * (ROWS - 1) / (max - min)
                };
                if h >= row {
                    '#'
                } else if row == 1 {
                    '_'
                } else {
                    ' '
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    // Ages: a column's age in the largest unit that fits, written downwards.
    let ages: Vec<String> = e
        .samples
        .iter()
        .map(|s| {
            let age = now.saturating_sub(s.time);
            if age < 60 {
                format!("{age}s")
            } else if age < 3600 {
                format!("{}m", age / 60)
            } else {
                format!("{}h", age / 3600)
            }
        })
        .collect();
    let height = ages.iter().map(|a| a.len()).max().unwrap_or(0);
    for i in 0..height {
        let line: String = ages
            .iter()
            .map(|a| a.as_bytes().get(i).map_or(' ', |&b| b as char))
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// LATENCY DOCTOR's report: per event, what was seen and Redis's general advice.
pub fn doctor(events: &[(&'static str, Event)], threshold_ms: u64) -> String {
    if threshold_ms == 0 && events.is_empty() {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Ferrite \
                instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" \
                in order to enable it.\n"
            .to_string();
    }
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Ferrite \
                instance, not in the slightest bit. I honestly think you ought to sleep \
                tonight.\n"
            .to_string();
    }
    let mut out = String::from(
        "Dave, I have observed latency spikes in this Ferrite instance. You don't mind \
         talking about it, do you Dave?\n\n",
    );
    for (i, (name, e)) in events.iter().enumerate() {
        let avg = e.samples.iter().map(|s| s.ms).sum::<u64>() / e.samples.len().max(1) as u64;
        out.push_str(&format!(
            "{}. {name}: {} latency spikes (average {avg}ms, worst {}ms).\n",
            i + 1,
            e.samples.len(),
            e.max
        ));
    }
    out.push_str(
        "\nI have a few advices for you:\n\n- Check the slow log (SLOWLOG GET) for the commands \
         that took longest; O(N) commands over large values (KEYS, SMEMBERS, LRANGE 0 -1, SORT) \
         are the usual source.\n- Ferrite runs commands on every core: a spike on one connection \
         does not stall the others, but commands on the same cache shard wait for each other.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_and_bounded() {
        let m = LatencyMonitor::default();
        m.record("command", 100, 5);
        m.record("command", 100, 9);
        m.record("command", 101, 3);
        let e = m.event(b"command").unwrap();
        assert_eq!(
            e.samples,
            vec![Sample { time: 100, ms: 9 }, Sample { time: 101, ms: 3 }]
        );
        assert_eq!(e.max, 9);
        for t in 0..500 {
            m.record("fast-command", t, 1);
        }
        assert_eq!(m.event(b"fast-command").unwrap().samples.len(), SAMPLES_MAX);
        assert_eq!(m.reset(&[b"command".as_slice()]), 1);
        assert_eq!(m.reset(&[]), 1);
        assert!(m.events().is_empty());
    }

    #[test]
    fn graph_draws_one_column_per_sample() {
        let e = Event {
            samples: vec![Sample { time: 10, ms: 1 }, Sample { time: 20, ms: 10 }],
            max: 10,
        };
        let g = graph("command", &e, 30);
        assert!(g.starts_with("command - high 10 ms, low 1 ms"));
        assert!(g.contains("\n #\n"), "{g}");
        assert!(g.contains("\n##\n"), "{g}");
    }
}
