print("adapterps")
