"""Distribution formats: wheels, sdists and the Python source they carry."""
