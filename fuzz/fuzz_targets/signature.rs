//! The webhook signature verifier: any key id, timestamp, signature and body are refused or
//! accepted without a panic, and a body signed with the key always verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newborn_domain::stage::Agency;
use newborn_service::signing::{KeyRing, SigningKey};

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::new("police-1", Agency::PoliceStation, b"fuzzing secret".to_vec());
    let ring = KeyRing::new(vec![key.clone()]);
    let now = chrono::Utc::now();
    // Arbitrary headers: the input split at the first three newlines.
    let mut parts = data.splitn(4, |b| *b == b'\n');
    fn text(p: Option<&[u8]>) -> Option<&str> {
        p.and_then(|p| std::str::from_utf8(p).ok())
    }
    let (id, ts, sig) = (text(parts.next()), text(parts.next()), text(parts.next()));
    let body = parts.next().unwrap_or_default();
    let _ = ring.verify(id, ts, sig, body, now);
    // The genuine signature of the whole input verifies.
    let headers = key.headers(now, data);
    let value = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
    assert!(
        ring.verify(
            value(newborn_service::signing::KEY_ID_HEADER),
            value(newborn_service::signing::TIMESTAMP_HEADER),
            value(newborn_service::signing::SIGNATURE_HEADER),
            data,
            now
        )
        .is_ok()
    );
});
