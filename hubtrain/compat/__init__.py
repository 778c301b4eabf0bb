"""paddle's and PaddleHub's APIs as faces over hubtrain's engine: hapi (hub.Model), and
paddle_private, the one module that uses Paddle's private names."""
