//! What an uploaded scan really is: the whole file is read by a maintained decoder, not judged by
//! its first bytes. A JPEG or PNG must decode completely within size limits and end where its
//! format ends (nothing appended, such as HTML after the image); a PDF must parse and may carry
//! no JavaScript, no embedded files, no launch actions and no encryption (an agency's clerk opens
//! these files).

use newborn_domain::text::Invalid;

/// The widest or tallest image accepted, in pixels (a 600 dpi A3 scan is about 7,000 × 9,900).
pub const MAX_IMAGE_SIDE: u32 = 12_000;
/// The most memory one decode may take.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
/// The last chunk of every PNG: length 0, `IEND`, its CRC.
const PNG_END: &[u8] = b"\0\0\0\0IEND\xAE\x42\x60\x82";
const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const JPEG_END: &[u8] = &[0xFF, 0xD9];

fn refused(code: &str, zh: &str, en: &str) -> Invalid {
    Invalid::new(code, zh, en)
}

/// The content type of `bytes` if the whole file is a sound JPEG, PNG or PDF; why not otherwise.
pub fn inspect(bytes: &[u8]) -> Result<&'static str, Invalid> {
    if bytes.starts_with(JPEG_MAGIC) {
        image(bytes, image::ImageFormat::Jpeg, JPEG_END)?;
        Ok("image/jpeg")
    } else if bytes.starts_with(PNG_MAGIC) {
        image(bytes, image::ImageFormat::Png, PNG_END)?;
        Ok("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        pdf(bytes)?;
        Ok("application/pdf")
    } else {
        Err(refused(
            "unsupported_document",
            "仅支持JPEG、PNG或PDF文件",
            "only JPEG, PNG or PDF files are accepted",
        ))
    }
}

fn image(bytes: &[u8], format: image::ImageFormat, end: &[u8]) -> Result<(), Invalid> {
    let unreadable = || {
        refused(
            "unreadable_image",
            "图片无法完整读取，请重新拍照或扫描",
            "the image cannot be read completely; take or scan it again",
        )
    };
    if !bytes.ends_with(end) {
        return Err(refused(
            "trailing_data",
            "图片结尾后还有其他内容，请上传原始图片",
            "the file goes on after the image ends; upload the original image",
        ));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits);
    reader.decode().map(|_| ()).map_err(|e| {
        tracing::info!(error = %e, "an uploaded image does not decode");
        match e {
            image::ImageError::Limits(_) => refused(
                "image_too_large",
                "图片尺寸过大（每边不超过12000像素）",
                "the image is too large (at most 12,000 pixels a side)",
            ),
            _ => unreadable(),
        }
    })
}

fn pdf(bytes: &[u8]) -> Result<(), Invalid> {
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| {
        tracing::info!(error = %e, "an uploaded PDF does not parse");
        refused(
            "unreadable_pdf",
            "PDF文件无法读取，请重新导出",
            "the PDF cannot be read; export it again",
        )
    })?;
    if doc.is_encrypted() {
        return Err(refused(
            "encrypted_pdf",
            "PDF文件已加密，请上传未加密的文件",
            "the PDF is encrypted; upload an unencrypted one",
        ));
    }
    let mut dicts = vec![];
    for object in doc.objects.values() {
        nested_dicts(object, 0, &mut dicts);
    }
    for dict in dicts {
        let named = |key: &[u8], value: &[u8]| {
            dict.get(key)
                .and_then(lopdf::Object::as_name)
                .is_ok_and(|n| n == value)
        };
        if dict.has(b"JS") || dict.has(b"JavaScript") || named(b"S", b"JavaScript") {
            return Err(refused(
                "pdf_javascript",
                "PDF文件含有脚本，请导出为普通PDF",
                "the PDF contains JavaScript; export it as a plain PDF",
            ));
        }
        if dict.has(b"EmbeddedFiles")
            || dict.has(b"EF")
            || named(b"Type", b"EmbeddedFile")
            || named(b"Type", b"Filespec")
        {
            return Err(refused(
                "pdf_embedded_file",
                "PDF文件内嵌了其他文件，请只上传扫描件",
                "the PDF embeds other files; upload the scan only",
            ));
        }
        if named(b"S", b"Launch") {
            return Err(refused(
                "pdf_launch_action",
                "PDF文件含有启动程序的动作",
                "the PDF contains an action that launches a program",
            ));
        }
    }
    Ok(())
}

/// Every dictionary in `object`, nested ones included (an action is often written inline in the
/// catalog), to a bounded depth.
fn nested_dicts<'a>(object: &'a lopdf::Object, depth: usize, out: &mut Vec<&'a lopdf::Dictionary>) {
    if depth > 32 {
        return;
    }
    let dict = match object {
        lopdf::Object::Dictionary(d) => d,
        lopdf::Object::Stream(s) => &s.dict,
        lopdf::Object::Array(items) => {
            for item in items {
                nested_dicts(item, depth + 1, out);
            }
            return;
        }
        _ => return,
    };
    out.push(dict);
    for (_, value) in dict.iter() {
        nested_dicts(value, depth + 1, out);
    }
}

/// A small real PNG whose pixels depend on `label` (distinct labels, distinct files): the demo's
/// and the tests' stand-in for a photographed document.
pub fn sample_png(label: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let seed = Sha256::digest(label.as_bytes());
    let img = image::RgbImage::from_fn(32, 16, |x, y| {
        let i = ((x + y * 32) as usize) % seed.len();
        image::Rgb([seed[i], seed[(i + 7) % 32], (x * 8) as u8])
    });
    let mut out = std::io::Cursor::new(vec![]);
    // Encoding an in-memory RGB image to PNG does not fail.
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(bytes: &[u8]) -> String {
        inspect(bytes).err().map(|e| e.code).unwrap_or_default()
    }

    fn jpeg() -> Vec<u8> {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10]));
        let mut out = std::io::Cursor::new(vec![]);
        let _ = img.write_to(&mut out, image::ImageFormat::Jpeg);
        out.into_inner()
    }

    /// A minimal one-page PDF written with lopdf, with `extra` added to its catalog.
    fn pdf_with(extra: Option<(&str, lopdf::Object)>) -> Vec<u8> {
        use lopdf::{Document, Object, dictionary};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            }),
        );
        let mut catalog = dictionary! { "Type" => "Catalog", "Pages" => pages_id };
        if let Some((key, value)) = extra {
            catalog.set(key, value);
        }
        let catalog_id = doc.add_object(catalog);
        doc.trailer.set("Root", catalog_id);
        let mut out = vec![];
        let _ = doc.save_to(&mut out);
        out
    }

    #[test]
    fn sound_images_and_pdfs_pass_by_their_whole_content() {
        assert_eq!(inspect(&sample_png("a")), Ok("image/png"));
        assert_ne!(sample_png("a"), sample_png("b"));
        assert_eq!(inspect(&jpeg()), Ok("image/jpeg"));
        assert_eq!(inspect(&pdf_with(None)), Ok("application/pdf"));
    }

    #[test]
    fn a_right_header_on_the_wrong_content_is_refused() {
        let mut html = PNG_MAGIC.to_vec();
        html.extend_from_slice(b"<html><script>alert(1)</script></html>");
        html.extend_from_slice(PNG_END);
        assert_eq!(code(&html), "unreadable_image", "HTML behind a PNG header");
        let mut appended = sample_png("a");
        appended.extend_from_slice(b"<html></html>");
        assert_eq!(code(&appended), "trailing_data", "HTML after a real PNG");
        let mut jpeg = jpeg();
        jpeg.truncate(jpeg.len() / 2);
        jpeg.extend_from_slice(JPEG_END);
        assert_eq!(code(&jpeg), "unreadable_image", "a truncated JPEG");
        assert_eq!(code(b"%PDF-1.4 scan"), "unreadable_pdf");
        assert_eq!(code(b"GIF89a"), "unsupported_document");
    }

    #[test]
    fn pdfs_with_javascript_embedded_files_or_launch_actions_are_refused() {
        use lopdf::{Object, dictionary};
        let js =
            dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert(1)") };
        assert_eq!(
            code(&pdf_with(Some(("OpenAction", Object::Dictionary(js))))),
            "pdf_javascript"
        );
        let names = dictionary! { "EmbeddedFiles" => dictionary! { "Names" => vec![] } };
        assert_eq!(
            code(&pdf_with(Some(("Names", Object::Dictionary(names))))),
            "pdf_embedded_file"
        );
        let launch = dictionary! { "S" => "Launch", "F" => Object::string_literal("calc.exe") };
        assert_eq!(
            code(&pdf_with(Some(("OpenAction", Object::Dictionary(launch))))),
            "pdf_launch_action"
        );
    }
}
