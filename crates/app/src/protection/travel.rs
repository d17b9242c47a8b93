//! Impossible travel: the speed implied by two located requests of one user. GeoIP is only so
//! precise, so the distance counted is the shortest one the two accuracy circles allow (the
//! centres' distance minus both radii); moves shorter than `TRAVEL_DISTANCE_MIN_KM` after that
//! are ignored, and so are requests without a city-level location.

/// Shorter moves are never impossible travel.
pub const TRAVEL_DISTANCE_MIN_KM: f64 = 100.0;
/// Mean Earth radius.
const EARTH_RADIUS_KM: f64 = 6371.0;
const MS_PER_HOUR: f64 = 3_600_000.0;

/// One located request: when (ms since the epoch) and where (degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sighting {
    pub at_ms: i64,
    pub latitude: f64,
    pub longitude: f64,
    /// GeoIP accuracy radius in kilometres.
    pub accuracy_km: f64,
}

/// Great-circle distance in kilometres (haversine).
pub fn distance_km(a: &Sighting, b: &Sighting) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().clamp(0.0, 1.0).asin()
}

/// True when going from `from` to `to` needs more than `max_kmh`. A request that arrives
/// "before" the last one (clocks of two instances) counts as no time at all.
pub fn is_impossible(from: &Sighting, to: &Sighting, max_kmh: u32) -> bool {
    let km = distance_km(from, to) - from.accuracy_km.max(0.0) - to.accuracy_km.max(0.0);
    if !km.is_finite() || km < TRAVEL_DISTANCE_MIN_KM {
        return false;
    }
    let elapsed_ms = to.at_ms.saturating_sub(from.at_ms).max(0);
    // Precision is irrelevant at these magnitudes (i64 milliseconds to f64 hours).
    #[expect(clippy::cast_precision_loss, reason = "hours from milliseconds")]
    let hours = elapsed_ms as f64 / MS_PER_HOUR;
    km > f64::from(max_kmh) * hours
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONDON: (f64, f64) = (51.5142, -0.0931);
    const CHANGCHUN: (f64, f64) = (43.88, 125.3228);
    const BOXFORD: (f64, f64) = (51.75, -1.25);

    fn at(place: (f64, f64), minutes: i64) -> Sighting {
        Sighting {
            at_ms: minutes * 60_000,
            latitude: place.0,
            longitude: place.1,
            accuracy_km: 10.0,
        }
    }

    #[test]
    fn london_to_changchun_is_about_eight_thousand_kilometres() {
        let km = distance_km(&at(LONDON, 0), &at(CHANGCHUN, 0));
        assert!((8_000.0..8_300.0).contains(&km), "{km}");
    }

    #[test]
    fn a_flight_is_possible_and_a_teleport_is_not() {
        let london = at(LONDON, 0);
        assert!(is_impossible(&london, &at(CHANGCHUN, 1), 1000));
        assert!(is_impossible(&london, &at(CHANGCHUN, 7 * 60), 1000));
        assert!(!is_impossible(&london, &at(CHANGCHUN, 10 * 60), 1000));
        // Clocks of two instances may disagree: "earlier" is treated as simultaneous.
        assert!(is_impossible(&at(LONDON, 5), &at(CHANGCHUN, 0), 1000));
    }

    #[test]
    fn imprecise_locations_count_only_the_distance_they_must_mean() {
        let precise = at(LONDON, 0);
        // 300 km apart, but each within 200 km of anywhere in that gap: no evidence.
        let mut vague = at((54.2, -0.5), 1);
        vague.accuracy_km = 200.0;
        assert!(!is_impossible(&precise, &vague, 1000));
        vague.accuracy_km = 20.0;
        assert!(is_impossible(&precise, &vague, 1000));
    }

    #[test]
    fn short_moves_are_ignored_however_fast() {
        let km = distance_km(&at(LONDON, 0), &at(BOXFORD, 0));
        assert!(km < TRAVEL_DISTANCE_MIN_KM, "{km}");
        assert!(!is_impossible(&at(LONDON, 0), &at(BOXFORD, 0), 100));
    }
}
