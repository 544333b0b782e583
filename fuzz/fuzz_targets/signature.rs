//! The webhook signature verifier: any message id, timestamp, signature and body are refused or
//! accepted without a panic (timestamps as far off as i64 allows included), and a body signed
//! with a key always verifies, whichever algorithm it uses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newborn_domain::stage::Agency;
use newborn_service::signing::{Algorithm, KeyRing, SigningKey};

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::new(
        "police-1",
        Agency::PoliceStation,
        Algorithm::HmacSha256,
        b"fuzzing secret".to_vec(),
    );
    let sm3 = SigningKey::new(
        "police-2",
        Agency::PoliceStation,
        Algorithm::HmacSm3,
        b"another fuzzing secret".to_vec(),
    );
    let ring = KeyRing::new(vec![key.clone(), sm3.clone()]);
    let now = chrono::Utc::now();
    // Arbitrary headers: the input split at the first three newlines.
    let mut parts = data.splitn(4, |b| *b == b'\n');
    fn text(p: Option<&[u8]>) -> Option<&str> {
        p.and_then(|p| std::str::from_utf8(p).ok())
    }
    let (id, ts, sig) = (text(parts.next()), text(parts.next()), text(parts.next()));
    let body = parts.next().unwrap_or_default();
    let _ = ring.verify(id, ts, sig, body, now);
    // The genuine signature of the whole input verifies, with either key.
    for k in [&key, &sm3] {
        let headers = k.headers(&newborn_service::signing::new_message_id(), now, data);
        let value =
            |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert!(
            ring.verify(
                value(newborn_service::signing::ID_HEADER),
                value(newborn_service::signing::TIMESTAMP_HEADER),
                value(newborn_service::signing::SIGNATURE_HEADER),
                data,
                now
            )
            .is_ok()
        );
    }
});
