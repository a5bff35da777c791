//! The demo storefront's entry point: set the panic hook, mount the center.

fn main() {
    console_error_panic_hook::set_once();
    tidings_web::embed::boot_demo();
}
