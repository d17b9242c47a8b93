//! Where a client address is: country, city and coordinates from a GeoIP2/GeoLite2 City
//! database (`protection.geoip_db`). The file is re-read when it changes; a replacement that
//! cannot be read keeps the previous database in service (detection degraded is not an
//! outage), is logged, and shows in `/metrics` as `strongroom_geoip_degraded 1`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use maxminddb::{Reader, geoip2};

/// Where an address is. Coordinates are degrees; they never touch money.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// How far from the coordinates the address may be, in kilometres.
    pub accuracy_km: Option<u16>,
}

impl Location {
    /// `"London, GB"`, or `"GB"` when the city is unknown.
    pub fn label(&self) -> String {
        match &self.city {
            Some(city) => format!("{city}, {}", self.country),
            None => self.country.clone(),
        }
    }

    /// Latitude, longitude and accuracy radius, for a city-level location (a country-level
    /// one — the country's centre — is no evidence of where someone is).
    pub fn coordinates(&self) -> Option<(f64, f64, u16)> {
        self.city.as_ref()?;
        Some((
            self.latitude?,
            self.longitude?,
            self.accuracy_km.unwrap_or(0),
        ))
    }
}

/// The file's identity: a change in either means a new database.
type Stamp = (Option<SystemTime>, u64);

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.modified().ok(), metadata.len()))
}

/// The GeoIP database in service, if one is configured.
#[derive(Debug, Default)]
pub struct GeoIp {
    path: Option<PathBuf>,
    reader: RwLock<Option<Arc<Reader<Vec<u8>>>>>,
    stamp: Mutex<Option<Stamp>>,
}

fn open(path: &Path) -> Result<Reader<Vec<u8>>, String> {
    let reader = Reader::open_readfile(path).map_err(|error| error.to_string())?;
    let kind = &reader.metadata().database_type;
    if !kind.contains("City") {
        return Err(format!("is a {kind} database, not a City database"));
    }
    Ok(reader)
}

impl GeoIp {
    /// No database: nothing is located.
    pub fn disabled() -> GeoIp {
        GeoIp::default()
    }

    /// Opens `path`; an unreadable or malformed file is an error (a configuration error at
    /// start).
    pub fn open(path: &Path) -> Result<GeoIp, String> {
        let file_stamp = stamp(path).map_err(|error| error.to_string())?;
        let reader = open(path)?;
        metrics::gauge!("strongroom_geoip_degraded").set(0.0);
        Ok(GeoIp {
            path: Some(path.to_path_buf()),
            reader: RwLock::new(Some(Arc::new(reader))),
            stamp: Mutex::new(Some(file_stamp)),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.path.is_some()
    }

    /// Re-reads the file when it changed. A file that cannot be read keeps the previous
    /// database in service; `false` then (and `strongroom_geoip_degraded` is 1).
    pub fn reload_if_changed(&self) -> bool {
        let Some(path) = &self.path else {
            return true;
        };
        let current = stamp(path).ok();
        let Ok(mut last) = self.stamp.lock() else {
            return false;
        };
        if current.is_some() && current == *last {
            return true;
        }
        match open(path) {
            Ok(reader) => {
                if let Ok(mut slot) = self.reader.write() {
                    *slot = Some(Arc::new(reader));
                }
                *last = current;
                metrics::gauge!("strongroom_geoip_degraded").set(0.0);
                tracing::info!(path = %path.display(), "GeoIP database reloaded");
                true
            }
            Err(reason) => {
                metrics::gauge!("strongroom_geoip_degraded").set(1.0);
                tracing::error!(path = %path.display(), reason, "GeoIP database cannot be read; keeping the previous one");
                false
            }
        }
    }

    /// Where `ip` is, when the database knows its country.
    pub fn locate(&self, ip: IpAddr) -> Option<Location> {
        let reader = self.reader.read().ok()?.clone()?;
        let city: geoip2::City<'_> = reader.lookup(ip).ok()?.decode().ok()??;
        let country = city.country.iso_code?;
        let valid_code = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
        if !valid_code {
            return None;
        }
        Some(Location {
            country: country.to_owned(),
            city: city.city.names.english.map(|name| {
                name.chars()
                    .filter(|c| !c.is_control())
                    .take(crate::limits::GEO_CITY_CHARS_MAX)
                    .collect()
            }),
            latitude: city.location.latitude.filter(|lat| lat.is_finite()),
            longitude: city.location.longitude.filter(|lon| lon.is_finite()),
            accuracy_km: city.location.accuracy_radius,
        })
    }
}
