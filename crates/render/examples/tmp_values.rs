use ferry_chart::coalesce::{Warnings, computed_values};
use ferry_chart::{Map, load};
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let chart = load(&path).unwrap();
    let user = Map::new();
    let t = std::time::Instant::now();
    for _ in 0..n {
        let r = computed_values(&chart, &user, &mut Warnings::default()).unwrap();
        std::hint::black_box(&r);
    }
    eprintln!("computed_values {:?}", t.elapsed() / n as u32);
}
