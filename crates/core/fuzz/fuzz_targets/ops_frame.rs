//! Ops frames: any text decodes to a frame or an error; a decoded frame is
//! applied to the page's model, which is then asked for every chart.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tidings_core::ops::{Figure, OpsFrame, OpsView};
use tidings_core::stats::Resolution;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = OpsFrame::decode(text) {
        let mut view = OpsView::new();
        view.apply(frame.clone());
        view.apply(frame);
        for figure in [Figure::Events, Figure::Deliveries, Figure::Rejections] {
            for res in [Resolution::Second, Resolution::Minute] {
                let _ = view.lines(figure, res, 8);
            }
        }
    }
});
