fn main() {
    for t in ["Hello, I would like a refund for my order, it arrived broken last week.", "Hola, quiero devolver mi pedido porque llegó roto y nadie me responde.", "Guten Tag, meine Bestellung ist leider beschädigt angekommen, bitte helfen Sie mir.", "My password reset link does not work", "Where is my package? Tracking says delivered but nothing arrived."] {
        println!("{:?}", whatlang::detect(t));
    }
}
