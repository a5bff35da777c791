//! The embeddable notification center: only `mount(element, options)`, no demo
//! storefront boot and no operators' page, so a storefront ships the least code.

fn main() {
    console_error_panic_hook::set_once();
    // Keeps the exported `mount` linked in: nothing else in this binary calls it.
    std::hint::black_box(tidings_web::embed::mount as fn(_, _) -> _);
}
